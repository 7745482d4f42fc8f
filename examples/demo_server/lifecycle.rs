//! The checkpoint lifecycle endpoints over the built-in catalog: a per-server overlay makes
//! the catalog mutable (a delete removes a checkpoint from every listing, publish and
//! unpublish toggle `public` with 409 when already so, a TTL sets `expires_at`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::auth;
use super::catalog;
use super::faults::Endpoint;
use super::handlers::Ctx;
use super::reply::{Answer, Call, Handled, Reply};

/// What the lifecycle calls changed, by tinker path.
#[derive(Debug, Default)]
pub struct Overlay {
    deleted: BTreeSet<String>,
    public: BTreeMap<String, bool>,
    expires: BTreeMap<String, Value>,
}

/// The catalog's checkpoints as the lifecycle calls left them.
pub fn apply(ctx: &Ctx, list: Vec<Value>) -> Vec<Value> {
    let overlay = ctx.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
    list.into_iter()
        .filter(|c| !overlay.deleted.contains(path_of(c)))
        .map(|mut c| {
            let path = path_of(&c).to_string();
            if let Some(p) = overlay.public.get(&path) {
                c["public"] = json!(p);
            }
            if let Some(e) = overlay.expires.get(&path) {
                c["expires_at"] = e.clone();
            }
            c
        })
        .collect()
}

fn path_of(c: &Value) -> &str {
    c["tinker_path"].as_str().unwrap_or_default()
}

/// Answers `…/training_runs/{run}/checkpoints/{kind}/{name}[/publish|/ttl]`; `None` for
/// any other path.
pub fn handle(ctx: &Ctx, call: &Call) -> Option<Reply> {
    let path = call.path.split('?').next().unwrap_or_default();
    let rest = path.strip_prefix("/api/v1/training_runs/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 4 || parts[1] != "checkpoints" {
        return None;
    }
    let answer = answer(ctx, call, &parts).unwrap_or_else(|e| e);
    Some(Reply::Answer(answer))
}

fn answer(ctx: &Ctx, call: &Call, parts: &[&str]) -> Handled {
    let cfg = &ctx.config;
    auth::check(
        &ctx.jwts,
        cfg.jwt,
        cfg.require_key.as_deref(),
        Endpoint::Samplers,
        call,
    )?;
    let (run, kind, name) = (parts[0], parts[2], parts[3]);
    let tinker_path = format!("tinker://{run}/{kind}/{name}");
    let not_found = || Answer::detail(404, format!("Checkpoint not found: {run}/{kind}/{name}"));
    let r = catalog::find(run).map_err(|_| not_found())?;
    let current = apply(ctx, catalog::checkpoints(r))
        .into_iter()
        .find(|c| path_of(c) == tinker_path)
        .ok_or_else(not_found)?;
    let mut overlay = ctx.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
    match (&parts[4..], call.method.as_str()) {
        ([], "DELETE") => {
            overlay.deleted.insert(tinker_path);
            Ok(Answer::json(200, &json!({})))
        }
        (["publish"], "POST" | "DELETE") => {
            let want = call.method == "POST";
            if current["public"] == json!(want) {
                let what = if want { "public" } else { "private" };
                return Err(Answer::detail(409, format!("Checkpoint is already {what}")));
            }
            overlay.public.insert(tinker_path, want);
            Ok(Answer::json(200, &json!({})))
        }
        (["ttl"], "PUT") => {
            let body: Value = serde_json::from_slice(&call.body)
                .map_err(|_| Answer::detail(422, "body must be JSON"))?;
            let expires = match &body["ttl_seconds"] {
                Value::Null => Value::Null,
                ttl => {
                    let secs = ttl.as_i64().filter(|s| (3600..=3650 * 86_400).contains(s));
                    let secs = secs.ok_or_else(|| {
                        Answer::detail(400, "TTL must be between 1 hour and 10 years")
                    })?;
                    json!(catalog::time(jiff::Timestamp::now().as_second() + secs))
                }
            };
            overlay.expires.insert(tinker_path, expires);
            Ok(Answer::json(200, &json!({})))
        }
        _ => Err(Answer::detail(405, "Method Not Allowed")),
    }
}
