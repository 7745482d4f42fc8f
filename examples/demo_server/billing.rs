//! The billing endpoints from a small built-in data set: usage events synthesized for the
//! first hours of the asked window (two sessions, each kind of usage), storage computed
//! from the (mutable) catalog, and 403 for the key that lacks the billing role.

use serde_json::{json, Value};

use super::auth;
use super::catalog;
use super::faults::Endpoint;
use super::handlers::Ctx;
use super::lifecycle;
use super::reply::{Answer, Call, Handled, Reply};

/// The API key the demo server treats as lacking the billing role (403 on billing calls).
pub const NO_BILLING_ROLE_KEY: &str = "tml-demo-no-billing-role";

/// At most this many hours of the window carry events.
const BUSY_HOURS: i64 = 3;

/// The storage rate, USD per GB-month.
const RATE: f64 = 0.15;

/// Answers `/api/v1/billing/…`; `None` for any other path.
pub fn handle(ctx: &Ctx, call: &Call) -> Option<Reply> {
    let (path, query) = call.path.split_once('?').unwrap_or((&call.path, ""));
    let rest = path.strip_prefix("/api/v1/billing/")?;
    let answer = answer(ctx, call, rest, query).unwrap_or_else(|e| e);
    Some(Reply::Answer(answer))
}

fn answer(ctx: &Ctx, call: &Call, rest: &str, query: &str) -> Handled {
    if call.method != "GET" {
        return Err(Answer::detail(405, "Method Not Allowed"));
    }
    let cfg = &ctx.config;
    auth::check(
        &ctx.jwts,
        cfg.jwt,
        cfg.require_key.as_deref(),
        Endpoint::Samplers,
        call,
    )?;
    if call.header("x-api-key") == Some(NO_BILLING_ROLE_KEY) {
        return Err(Answer::detail(
            403,
            "Billing access requires the admin or billing-admin role",
        ));
    }
    match rest {
        "usage/events" => usage(query),
        "usage/checkpoints/current" => Ok(storage(ctx)),
        _ => Err(Answer::detail(404, "Not Found")),
    }
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn instant(query: &str, name: &str) -> Result<i64, Answer> {
    let text = param(query, name).unwrap_or_default().replace("%3A", ":");
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| Answer::detail(422, format!("{name} must be a UTC time")))
}

fn usage(query: &str) -> Handled {
    let start = instant(query, "starting_on")?;
    let end = instant(query, "ending_before")?;
    if start % 3600 != 0 || end % 3600 != 0 || end <= start || end - start > 14 * 86_400 {
        return Err(Answer::detail(
            400,
            "the window must be whole hours, at most 14 days",
        ));
    }
    let mut data = Vec::new();
    let hours = ((end - start) / 3600).min(BUSY_HOURS);
    for h in 0..hours {
        let from = start + h * 3600;
        data.push(event(
            from,
            "Qwen/Qwen3-8B",
            "demo-session-1",
            0.25,
            json!({"type": "sampling_prefill", "cached": false, "token_count": 500_000}),
        ));
        data.push(event(
            from,
            "Qwen/Qwen3-8B",
            "demo-session-1",
            0.6,
            json!({"type": "sampling_sample", "token_count": 200_000}),
        ));
        data.push(event(
            from,
            "meta-llama/Llama-3.1-8B-Instruct",
            "demo-session-2",
            1.2,
            json!({"type": "training", "token_count": 300_000}),
        ));
        data.push(event(
            from,
            "Qwen/Qwen3-8B",
            "demo-session-2",
            0.01,
            json!({"type": "storage", "free": false, "gigabyte_hours": 48.0}),
        ));
    }
    let through = (end - 2 * 3600 > start).then(|| catalog::time(end - 2 * 3600));
    Ok(Answer::json(
        200,
        &json!({
            "data": data,
            "sessions": {
                "demo-session-1": {"user_metadata": {"job": "nightly-eval", "shard": "1/2"}},
                "demo-session-2": {"user_metadata": null},
            },
            "cost_data_through": through,
        }),
    ))
}

fn event(from: i64, model: &str, session: &str, cost: f64, info: Value) -> Value {
    let storage = info["type"] == "storage";
    json!({
        "bucket_start": catalog::time(from),
        "bucket_end": catalog::time(from + 3600),
        "base_model": model,
        "user_id": "urn:user:demo",
        "user_name": "demo-user",
        "session_id": session,
        "project_id": "demo-project",
        "estimated_cost_usd": cost,
        "effective_rate_usd_per_million_tokens": (!storage).then_some(cost * 2.0),
        "effective_rate_usd_per_gigabyte_month": storage.then_some(RATE),
        "event_info": info,
    })
}

/// One row for the demo project, summed from the catalog as the lifecycle calls left it.
fn storage(ctx: &Ctx) -> Answer {
    let all: Vec<Value> = (0..3).flat_map(catalog::checkpoints).collect();
    let live = lifecycle::apply(ctx, all);
    let bytes: i64 = live.iter().filter_map(|c| c["size_bytes"].as_i64()).sum();
    let gb = bytes as f64 / 1e9;
    Answer::json(
        200,
        &json!({
            "effective_rate_usd_per_gigabyte_month": RATE,
            "data": [{
                "project_id": "demo-project",
                "org_user_urn": "urn:user:demo",
                "user_email": "demo@example.com",
                "user_name": "demo-user",
                "checkpoint_count": live.len(),
                "size_bytes": bytes,
                "size_gigabytes": gb,
                "estimated_monthly_cost_usd": gb * RATE,
            }],
        }),
    )
}
