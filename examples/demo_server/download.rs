//! Downloadable checkpoints: signed URLs of external weights, the temporary export of
//! training weights (load_weights → save_weights_external → URLs, ttl, DELETE) and the
//! archive of sampler weights (a 302 to a tar.gz), all served from small built-in files.
//!
//! Every `weights/` and `sampler_weights/` checkpoint of the catalog can be downloaded, and
//! `external_weights/NAME` of a catalog run for each listed `weights/NAME`. The signed URLs
//! point at `/demo-storage/` on this same server: they need no credential (one sent is
//! refused, as a storage host would never want it) and expire after [`URL_TTL_SECS`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use super::auth::{self, now_secs};
use super::catalog;
use super::faults::Endpoint;
use super::handlers::{check_headers, Ctx};
use super::reply::{body_object, check_fields, get_str, Answer, Call, Handled, Reply};

// The signed URLs' side: checks, ranges and the built-in files.
#[path = "storage.rs"]
mod storage;
use storage::{files, storage};

/// How long a signed URL works, in seconds (the client re-signs when 5 minutes are left).
pub const URL_TTL_SECS: u64 = 900;
/// Bytes of tensor data in each built-in weights file.
const TENSOR_BYTES: usize = 256 * 1024;
/// Request ids of the export futures start with this (sampling's futures are elsewhere).
const FUTURE_PREFIX: &str = "demo-export-";

/// What the download endpoints remember: signing key, loaded models, exports, futures.
pub struct Downloads {
    secret: u64,
    state: Mutex<Exports>,
}

#[derive(Default)]
struct Exports {
    counter: u64,
    /// Model id (`S:train:0`) → the catalog checkpoint loaded into it: (run, step name).
    models: HashMap<String, (String, String)>,
    /// Export run id (the model id) → the checkpoint it copies; removed by DELETE.
    exports: HashMap<String, (String, String)>,
    /// Future id → its result.
    futures: HashMap<String, Value>,
    /// Sampler archives asked for once already (the first ask answers 503: being built).
    built: Vec<String>,
}

impl Default for Downloads {
    fn default() -> Self {
        Downloads {
            secret: rand::random(),
            state: Mutex::default(),
        }
    }
}

impl Downloads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Exports> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The signature of `path` valid until `expires`.
    fn sign(&self, path: &str, expires: u64) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.secret, path, expires).hash(&mut h);
        format!("{:016x}", h.finish())
    }
}

/// Answers a download call; `None` when `call` is for another endpoint.
pub fn handle(ctx: &Ctx, call: &Call) -> Option<Reply> {
    let path = call.path.split('?').next().unwrap_or_default();
    if path.starts_with("/demo-storage/") {
        return Some(Reply::Answer(storage(ctx, call).unwrap_or_else(|e| e)));
    }
    let rest = path.strip_prefix("/api/v1/")?;
    let answer = match (call.method.as_str(), rest) {
        ("POST", "load_weights") => api(ctx, call, load_weights),
        ("POST", "get_info") => api(ctx, call, get_info),
        ("POST", "save_weights_external") => api(ctx, call, save_external),
        ("POST", "retrieve_future") => {
            let id = body_object(call)
                .ok()?
                .get("request_id")?
                .as_str()?
                .to_string();
            if !id.starts_with(FUTURE_PREFIX) {
                return None;
            }
            api(ctx, call, |ctx, _| future(ctx, &id))
        }
        _ => {
            let (run, kind, name, tail) = checkpoint_route(rest)?;
            let exported = ctx.downloads.lock().exports.contains_key(&run);
            match (call.method.as_str(), kind.as_str(), tail.as_str()) {
                ("GET", "external_weights", "external_weights_urls") => {
                    api(ctx, call, |ctx, call| urls(ctx, call, &run, &name))
                }
                ("GET", "sampler_weights", "archive") => {
                    api(ctx, call, |ctx, call| archive(ctx, call, &run, &name))
                }
                // Only the exports' ttl and DELETE are ours; the lifecycle endpoints own the rest.
                ("PUT", "external_weights", "ttl") if exported => {
                    api(ctx, call, |_, _| Ok(Answer::json(200, &json!({}))))
                }
                ("DELETE", "external_weights", "") if exported => api(ctx, call, |ctx, _| {
                    ctx.downloads.lock().exports.remove(&run);
                    Ok(Answer::json(200, &json!({})))
                }),
                _ => return None,
            }
        }
    };
    Some(Reply::Answer(answer))
}

/// Checks the credential and headers, then runs `f`.
fn api(ctx: &Ctx, call: &Call, f: impl FnOnce(&Ctx, &Call) -> Handled) -> Answer {
    let cfg = &ctx.config;
    let key = cfg.require_key.as_deref();
    auth::check(&ctx.jwts, cfg.jwt, key, Endpoint::Samplers, call)
        .and_then(|()| check_headers(call))
        .and_then(|()| f(ctx, call))
        .unwrap_or_else(|e| e)
}

/// `training_runs/{run}/checkpoints/{kind}/{name}[/{tail}]`, percent-decoded.
fn checkpoint_route(rest: &str) -> Option<(String, String, String, String)> {
    let (run, rest) = rest.strip_prefix("training_runs/")?.split_once('/')?;
    let rest = rest.strip_prefix("checkpoints/")?;
    let mut parts = rest.splitn(3, '/');
    let (kind, name) = (parts.next()?, parts.next()?);
    let tail = parts.next().unwrap_or_default();
    let decode = |s: &str| decode(s).filter(|d| !d.is_empty() && !d.contains('/'));
    Some((
        decode(run)?,
        kind.to_string(),
        decode(name)?,
        tail.to_string(),
    ))
}

/// Percent-decodes one path segment; `None` if it is not UTF-8 or badly escaped.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(bytes.len()), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn new_future(ctx: &Ctx, result: Value) -> Answer {
    let mut state = ctx.downloads.lock();
    state.counter += 1;
    let id = format!("{FUTURE_PREFIX}{}", state.counter);
    state.futures.insert(id.clone(), result);
    Answer::json(200, &json!({ "request_id": id }))
}

fn future(ctx: &Ctx, id: &str) -> Handled {
    let state = ctx.downloads.lock();
    let result = state.futures.get(id).cloned();
    result
        .map(|r| Answer::json(200, &r))
        .ok_or_else(|| Answer::detail(404, format!("Future not found: {id}")))
}

/// `load_weights`: a future that loads a catalog `weights/` checkpoint into `S:train:0`.
fn load_weights(ctx: &Ctx, call: &Call) -> Handled {
    let what = "load_weights";
    let obj = body_object(call)?;
    let required = ["session_id", "model_seq_id", "path", "type"];
    check_fields(&obj, what, &required, &["optimizer", "user_metadata"])?;
    let session = get_str(&obj, what, "session_id")?;
    if !ctx.state().sessions.contains_key(session) {
        return Err(Answer::detail(404, format!("Session not found: {session}")));
    }
    let path = get_str(&obj, what, "path")?;
    let found = path
        .strip_prefix("tinker://")
        .and_then(|p| p.split_once("/weights/"))
        .filter(|(run, name)| catalog::checkpoint_rank(run, "weights", name).is_some());
    let Some((run, name)) = found else {
        let error = format!("Checkpoint not found: {path}");
        return Ok(new_future(ctx, json!({"error": error, "category": "user"})));
    };
    let model = format!("{session}:train:0");
    let source = (run.to_string(), name.to_string());
    ctx.downloads.lock().models.insert(model, source);
    Ok(new_future(
        ctx,
        json!({"type": "load_weights", "path": null}),
    ))
}

/// The loaded checkpoint of the body's `model_id`, or 404.
fn loaded(ctx: &Ctx, obj: &Map<String, Value>, what: &str) -> Result<(String, String), Answer> {
    let model = get_str(obj, what, "model_id")?;
    let source = ctx.downloads.lock().models.get(model).cloned();
    source.ok_or_else(|| Answer::detail(404, format!("{what}: no model loaded as {model}")))
}

/// `get_info`: what the loaded model is.
fn get_info(ctx: &Ctx, call: &Call) -> Handled {
    let obj = body_object(call)?;
    check_fields(&obj, "get_info", &["model_id", "type"], &[])?;
    let (run, name) = loaded(ctx, &obj, "get_info")?;
    let (base, rank) = catalog::checkpoint_rank(&run, "weights", &name).unwrap_or_default();
    let data = json!({"base_model": base, "lora_rank": (rank > 0).then_some(rank)});
    Ok(Answer::json(
        200,
        &json!({"model_id": obj["model_id"], "model_data": data, "type": "get_info"}),
    ))
}

/// `save_weights_external`: a future whose result is the export's `tinker://` path.
fn save_external(ctx: &Ctx, call: &Call) -> Handled {
    let what = "save_weights_external";
    let obj = body_object(call)?;
    let required = ["model_id", "path", "type"];
    check_fields(&obj, what, &required, &["seq_id", "ttl_seconds"])?;
    let source = loaded(ctx, &obj, what)?;
    if get_str(&obj, what, "path")? != "download" {
        return Err(Answer::detail(422, "demo: exports are saved as `download`"));
    }
    let model = get_str(&obj, what, "model_id")?.to_string();
    let size: usize = files(&source.0, &source.1).iter().map(|f| f.1.len()).sum();
    ctx.downloads.lock().exports.insert(model.clone(), source);
    let result = json!({
        "path": format!("tinker://{model}/external_weights/download"),
        "size_bytes": size,
        "type": "save_weights_external",
    });
    Ok(new_future(ctx, result))
}

/// The catalog checkpoint whose files `external_weights/{name}` of `run` serves.
pub fn external_source(ctx: &Ctx, run: &str, name: &str) -> Option<(String, String)> {
    if let Some(source) = ctx.downloads.lock().exports.get(run) {
        return (name == "download").then(|| source.clone());
    }
    catalog::checkpoint_rank(run, "weights", name).map(|_| (run.to_string(), name.to_string()))
}

/// `external_weights_urls`: one signed URL per file and when they expire.
fn urls(ctx: &Ctx, call: &Call, run: &str, name: &str) -> Handled {
    let (src_run, src_name) = external_source(ctx, run, name)
        .ok_or_else(|| Answer::detail(404, format!("Checkpoint not found: {run}/{name}")))?;
    let expires = now_secs() + URL_TTL_SECS;
    let mut urls = Map::new();
    for (file, _) in files(&src_run, &src_name) {
        let path = format!("/demo-storage/{run}/external_weights/{name}/{file}");
        urls.insert(file, Value::String(signed(ctx, call, &path, expires)));
    }
    Ok(Answer::json(
        200,
        &json!({"urls": urls, "expires": rfc3339(expires)}),
    ))
}

/// The archive endpoint: 503 the first time (being built), then a 302 to a signed URL.
fn archive(ctx: &Ctx, call: &Call, run: &str, name: &str) -> Handled {
    if catalog::checkpoint_rank(run, "sampler_weights", name).is_none() {
        return Err(Answer::detail(
            404,
            format!("Checkpoint not found: {run}/{name}"),
        ));
    }
    let key = format!("{run}/{name}");
    let first = {
        let mut state = ctx.downloads.lock();
        let first = !state.built.contains(&key);
        if first {
            state.built.push(key);
        }
        first
    };
    if first {
        let busy = Answer::detail(503, "The archive is being built; try again shortly");
        return Err(busy.with_header("Retry-After", "1"));
    }
    let expires = now_secs() + URL_TTL_SECS;
    let path = format!("/demo-storage/{run}/sampler_weights/{name}/archive.tar.gz");
    let mut answer = Answer::json(302, &json!({}));
    answer.body.clear();
    let http_date = jiff::Timestamp::from_second(expires as i64)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    Ok(answer
        .with_header("Location", signed(ctx, call, &path, expires))
        .with_header("Expires", http_date))
}

/// An absolute signed URL for `path` on this server (the address the client used).
fn signed(ctx: &Ctx, call: &Call, path: &str, expires: u64) -> String {
    let host = call.header("host").unwrap_or("127.0.0.1");
    let sig = ctx.downloads.sign(path, expires);
    format!("http://{host}{path}?expires={expires}&sig={sig}")
}

fn rfc3339(secs: u64) -> String {
    jiff::Timestamp::from_second(secs as i64)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::DemoConfig;
    use super::*;

    fn get(path: String) -> Call {
        let headers = vec![("Host".to_string(), "127.0.0.1".to_string())];
        let (method, body) = ("GET".to_string(), Vec::new());
        Call {
            method,
            path,
            headers,
            body,
        }
    }

    #[test]
    fn a_signed_url_past_its_expiry_is_refused_and_a_fresh_one_served() {
        let ctx = Ctx::new(DemoConfig::default());
        let path = "/demo-storage/demo-run-1/external_weights/000600/adapter_config.json";
        let url = |expires: u64| {
            let sig = ctx.downloads.sign(path, expires);
            format!("{path}?expires={expires}&sig={sig}")
        };
        let stale = storage(&ctx, &get(url(now_secs() - 1))).unwrap_err();
        assert_eq!(stale.status, 403);
        assert!(String::from_utf8_lossy(&stale.body).contains("expired"));
        let fresh = storage(&ctx, &get(url(now_secs() + 60))).unwrap();
        assert_eq!(fresh.status, 200);
    }
}
