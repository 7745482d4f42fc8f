//! The read endpoints (`get_server_capabilities`, `training_runs`, `checkpoints`) served from
//! a built-in catalog: five models, three training runs and 300 checkpoints, enough for the
//! clients' paging to take several pages.

use serde_json::{json, Value};

use super::auth;
use super::faults::Endpoint;
use super::handlers::Ctx;
use super::reply::{Answer, Call, Handled, Reply};

/// Runs listed: id, base model, LoRA rank (0 = full fine-tune), steps saved, corrupted.
const RUNS: [(&str, &str, u64, u64, bool); 3] = [
    ("demo-run-1", "Qwen/Qwen3-8B", 32, 60, false),
    (
        "demo-run-2",
        "meta-llama/Llama-3.1-8B-Instruct",
        0,
        50,
        false,
    ),
    (
        "demo-run-3",
        "Qwen/Qwen3-30B-A3B-Instruct-2507",
        8,
        40,
        true,
    ),
];

/// 2026-11-20T08:00:00Z: the first run starts then, each next one a day later.
pub const EPOCH: i64 = 1_795_161_600;

/// The most items one page may ask for (FastAPI answers 422 past it, as the real server does).
const MAX_PAGE: u64 = 1000;

/// Answers a read endpoint; `None` when `call` is for another endpoint.
pub fn handle(ctx: &Ctx, call: &Call) -> Option<Reply> {
    let (path, query) = call.path.split_once('?').unwrap_or((&call.path, ""));
    let rest = path.strip_prefix("/api/v1/")?;
    let route = match rest {
        "get_server_capabilities" => Route::Models,
        "training_runs" => Route::Runs,
        "checkpoints" => Route::Checkpoints,
        _ => {
            let run = rest.strip_prefix("training_runs/")?;
            match run.strip_suffix("/checkpoints") {
                Some(id) => Route::RunCheckpoints(id.to_string()),
                None => Route::Run(run.to_string()),
            }
        }
    };
    let answer = answer(ctx, call, route, query).unwrap_or_else(|e| e);
    Some(Reply::Answer(answer))
}

enum Route {
    Models,
    Runs,
    Run(String),
    RunCheckpoints(String),
    Checkpoints,
}

fn answer(ctx: &Ctx, call: &Call, route: Route, query: &str) -> Handled {
    if call.method != "GET" {
        return Err(Answer::detail(405, "Method Not Allowed"));
    }
    // Read endpoints need what sampling needs: the JWT in JWT mode, else the key.
    let cfg = &ctx.config;
    auth::check(
        &ctx.jwts,
        cfg.jwt,
        cfg.require_key.as_deref(),
        Endpoint::Samplers,
        call,
    )?;
    match route {
        Route::Models => Ok(Answer::json(200, &json!({ "supported_models": models() }))),
        Route::Runs => {
            let (limit, offset) = paging(query)?;
            let all: Vec<Value> = (0..RUNS.len()).rev().map(run).collect();
            let page = window(&all, limit, offset);
            let cursor = json!({"offset": offset, "limit": limit, "total_count": all.len()});
            Ok(Answer::json(
                200,
                &json!({"training_runs": page, "cursor": cursor}),
            ))
        }
        Route::Run(id) => Ok(Answer::json(200, &run(find(&id)?))),
        Route::RunCheckpoints(id) => {
            let list = super::lifecycle::apply(ctx, checkpoints(find(&id)?));
            Ok(Answer::json(
                200,
                &json!({"checkpoints": list, "cursor": null}),
            ))
        }
        Route::Checkpoints => {
            let (limit, offset) = paging(query)?;
            let all: Vec<Value> = (0..RUNS.len()).flat_map(checkpoints).collect();
            let mut all = super::lifecycle::apply(ctx, all);
            all.reverse();
            let page = window(&all, limit, offset);
            let cursor = json!({"offset": offset, "limit": limit, "total_count": all.len()});
            Ok(Answer::json(
                200,
                &json!({"checkpoints": page, "cursor": cursor}),
            ))
        }
    }
}

/// The base model and LoRA rank (0 = full) of a listed checkpoint `kind/name` of `run`.
pub fn checkpoint_rank(run: &str, kind: &str, name: &str) -> Option<(&'static str, u64)> {
    let (_, base, rank, saves, _) = RUNS.iter().find(|r| r.0 == run)?;
    let step: u64 = name.parse().ok().filter(|_| name.len() == 6)?;
    let listed = step.is_multiple_of(10) && (1..=*saves).contains(&(step / 10));
    (listed && matches!(kind, "weights" | "sampler_weights")).then_some((*base, *rank))
}

/// The index of run `id` in the built-in catalog, or a 404.
pub fn find(id: &str) -> Result<usize, Answer> {
    RUNS.iter()
        .position(|r| r.0 == id)
        .ok_or_else(|| Answer::detail(404, format!("Training run not found: {id}")))
}

fn window(all: &[Value], limit: u64, offset: u64) -> Vec<Value> {
    all.iter()
        .skip(offset as usize)
        .take(limit as usize)
        .cloned()
        .collect()
}

/// `limit` (1–1000, default 20) and `offset` (≥ 0, default 0) from the query string.
fn paging(query: &str) -> Result<(u64, u64), Answer> {
    let mut limit = 20;
    let mut offset = 0;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| invalid(key, "Input should be a valid non-negative integer"))
        };
        match key {
            "limit" => limit = number()?,
            "offset" => offset = number()?,
            "access_scope" if matches!(value, "owned" | "accessible") => {}
            "access_scope" => return Err(invalid(key, "Input should be 'owned' or 'accessible'")),
            _ => {}
        }
    }
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid("limit", "Input should be between 1 and 1000"));
    }
    Ok((limit, offset))
}

/// FastAPI's answer to a bad query parameter.
fn invalid(key: &str, msg: &str) -> Answer {
    let detail = json!([{"loc": ["query", key], "msg": msg, "type": "value_error"}]);
    Answer::json(422, &json!({ "detail": detail }))
}

fn models() -> Value {
    json!([
        {"model_name": "Qwen/Qwen3-8B", "max_context_length": 32768, "trainable": true, "sampleable": true},
        {"model_name": "Qwen/Qwen3-30B-A3B-Instruct-2507", "max_context_length": 32768, "trainable": true, "sampleable": true},
        {"model_name": "meta-llama/Llama-3.1-8B-Instruct", "max_context_length": 131072, "trainable": true, "sampleable": true},
        {"model_name": "deepseek-ai/DeepSeek-V3.1", "max_context_length": 131072, "trainable": false, "sampleable": true},
        {"model_name": "moonshotai/Kimi-K2-Thinking", "sampleable": false},
    ])
}

/// `secs` as an RFC 3339 UTC time.
pub fn time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// When run `r` saved step `step`: one minute per step from its start.
fn saved_at(r: usize, step: u64) -> i64 {
    EPOCH + r as i64 * 86_400 + step as i64 * 60
}

/// Checkpoint `n` (1-based, every 10 steps) of run `r`, of the training or sampler kind.
fn checkpoint(r: usize, n: u64, sampler: bool) -> Value {
    let (id, _, rank, _, _) = RUNS[r];
    let step = n * 10;
    let kind = if sampler {
        "sampler_weights"
    } else {
        "weights"
    };
    // A LoRA adapter is small; full weights of an 8B model pass 2^32 bytes.
    let sampler_bytes: u64 = if rank == 0 {
        16_060_522_496
    } else {
        rank * 5_505_024
    };
    let size = if sampler {
        sampler_bytes
    } else {
        sampler_bytes * 3
    };
    let last = n == RUNS[r].3;
    let expires = (sampler && !last).then(|| time(saved_at(r, step) + 30 * 86_400));
    json!({
        "checkpoint_id": format!("{kind}/{step:06}"),
        "checkpoint_type": if sampler { "sampler" } else { "training" },
        "time": time(saved_at(r, step)),
        "tinker_path": format!("tinker://{id}/{kind}/{step:06}"),
        "size_bytes": size,
        "public": sampler && last && r == 0,
        "expires_at": expires,
    })
}

/// Every checkpoint of run `r`, oldest first: a training and a sampler one per save.
pub fn checkpoints(r: usize) -> Vec<Value> {
    (1..=RUNS[r].3)
        .flat_map(|n| [checkpoint(r, n, false), checkpoint(r, n, true)])
        .collect()
}

fn run(r: usize) -> Value {
    let (id, base, rank, saves, corrupted) = RUNS[r];
    let mut value = json!({
        "training_run_id": id,
        "base_model": base,
        "model_owner": "demo-user",
        "is_lora": rank > 0,
        "corrupted": corrupted,
        "lora_rank": (rank > 0).then_some(rank),
        "last_request_time": time(saved_at(r, saves * 10) + 30),
        "last_checkpoint": checkpoint(r, saves, false),
        "last_sampler_checkpoint": checkpoint(r, saves, true),
        "user_metadata": null,
    });
    if r == 2 {
        value["user_metadata"] = json!({"experiment": "rl-math", "owner_team": "demo"});
    }
    value
}
