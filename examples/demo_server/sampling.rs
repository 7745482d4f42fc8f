//! `asample` (strict body checks, seq_id rules) and `retrieve_future` (long-poll, try_again, result).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::handlers::Ctx;
use super::model::{self, SampleSpec, Stop};
use super::proto::{self, SampleResult};
use super::reply::{
    body_object, check_fields, check_type, get_bool, get_f64, get_i64, get_str, opt_i64, Answer,
    Call, Handled,
};

/// Key order of an asample body (docs/protocol.md: keys in a fixed order); the official
/// SDK 0.38 also sends the optional ones (fixtures/sdk_requests), always in this order.
const ASAMPLE_ORDER: [&str; 13] = [
    "num_samples",
    "prompt",
    "sampling_params",
    "sampling_session_id",
    "seq_id",
    "prompt_logprobs",
    "topk_prompt_logprobs",
    "topk_sample_logprobs",
    "target_prompt_logprobs",
    "prompt_alt_tokens_k",
    "prompt_logprobs_last_n",
    "record_stability_info",
    "type",
];

/// The keys SDK 0.38 adds (tinkex sends the first and the fourth only when asked for).
const ASAMPLE_OPTIONAL: [&str; 5] = [
    "topk_sample_logprobs",
    "target_prompt_logprobs",
    "prompt_alt_tokens_k",
    "prompt_logprobs_last_n",
    "record_stability_info",
];

/// Key order of `sampling_params`; absent ones are skipped.
const PARAM_KEYS: [&str; 6] = [
    "max_tokens",
    "seed",
    "stop",
    "temperature",
    "top_k",
    "top_p",
];

/// One submitted sample request.
pub struct RequestState {
    ready_at: Instant,
    polls: u64,
    outcome: Result<SampleResult, String>,
}

/// `POST /api/v1/asample`.
pub fn asample(ctx: &Ctx, call: &Call) -> Handled {
    if call.header("x-tinker-sampling-backpressure") != Some("1") {
        return Err(Answer::detail(
            400,
            "missing header X-Tinker-Sampling-Backpressure: 1",
        ));
    }
    let obj = body_object(call)?;
    let required: Vec<&str> = ASAMPLE_ORDER
        .into_iter()
        .filter(|k| !ASAMPLE_OPTIONAL.contains(k))
        .collect();
    check_fields(&obj, "asample", &required, &ASAMPLE_OPTIONAL)?;
    check_order(&obj, "asample", &ASAMPLE_ORDER)?;
    check_type(&obj, "asample", "sample")?;
    let spec = parse_spec(&obj)?;
    let ssid = get_str(&obj, "asample", "sampling_session_id")?;
    let seq = get_i64(&obj, "asample", "seq_id")?;
    let tok = model::load_tokenizer(&ctx.config.tokenizer).map_err(|e| Answer::detail(500, e))?;
    let vocab = tok.get_vocab_size(true);
    if let Some(bad) = spec.prompt.iter().find(|t| **t as usize >= vocab) {
        let detail = format!("prompt token id {bad} is outside the vocabulary (size {vocab})");
        return Err(Answer::detail(400, detail));
    }
    check_seq(ctx, ssid, seq)?;
    let outcome = model::sample(&tok, &spec);
    let latency = Duration::from_millis(ctx.config.latency_ms) * spec.num_samples;
    let mut state = ctx.state();
    let rid = state.new_id("request");
    let request = RequestState {
        ready_at: Instant::now() + latency,
        polls: 0,
        outcome,
    };
    state.requests.insert(rid.clone(), request);
    let ids: Vec<String> = (0..spec.num_samples)
        .map(|i| format!("{rid}-{i}"))
        .collect();
    Ok(Answer::json(
        200,
        &json!({"request_id": rid, "model_id": null, "sample_sequence_ids": ids}),
    ))
}

/// Accepts a `seq_id` not used before within the in-flight window, or a used one again (a retry).
fn check_seq(ctx: &Ctx, ssid: &str, seq: i64) -> Result<(), Answer> {
    let mut state = ctx.state();
    let sampler = state
        .samplers
        .get_mut(ssid)
        .ok_or_else(|| Answer::detail(404, format!("Sampler not found: {ssid}")))?;
    sampler
        .seqs
        .accept(seq)
        .map_err(|detail| Answer::detail(400, detail))
}

/// The `seq_id`s a sampling session has accepted. Parallel clients hand them out in order but
/// their requests arrive in any order, so any id of the next [`SeqIds::WINDOW`] is accepted;
/// an id far ahead (or negative) means a client that does not count from 0 by one.
#[derive(Debug, Default)]
pub struct SeqIds {
    /// Every id below this one has been accepted.
    below: i64,
    /// Accepted ids at or above `below`.
    ahead: BTreeSet<i64>,
}

impl SeqIds {
    /// How far past the lowest unused id a new id may be.
    pub const WINDOW: i64 = 1024;

    /// Records `seq`; the error explains why it is out of sequence.
    pub fn accept(&mut self, seq: i64) -> Result<(), String> {
        if (0..self.below).contains(&seq) || self.ahead.contains(&seq) {
            return Ok(());
        }
        if seq < 0 || seq >= self.below + Self::WINDOW {
            let (lo, hi) = (self.below, self.below + Self::WINDOW - 1);
            return Err(format!(
                "asample: seq_id {seq} is out of sequence (expected {lo}…{hi})"
            ));
        }
        self.ahead.insert(seq);
        while self.ahead.remove(&self.below) {
            self.below += 1;
        }
        Ok(())
    }
}

fn check_order(obj: &Map<String, Value>, what: &str, order: &[&str]) -> Result<(), Answer> {
    let expected: Vec<&str> = order
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .collect();
    if obj.keys().map(String::as_str).eq(expected.iter().copied()) {
        return Ok(());
    }
    let got: Vec<&str> = obj.keys().map(String::as_str).collect();
    let detail = format!(
        "{what}: keys must come in the order {}; got {}",
        expected.join(", "),
        got.join(", ")
    );
    Err(Answer::detail(422, detail))
}

fn bad(what: &str, message: &str) -> Answer {
    Answer::detail(422, format!("{what}: {message}"))
}

fn parse_spec(obj: &Map<String, Value>) -> Result<SampleSpec, Answer> {
    let num_samples = get_i64(obj, "asample", "num_samples")?;
    if !(1..=128).contains(&num_samples) {
        return Err(bad("asample", "num_samples must be between 1 and 128"));
    }
    let topk = topk_field(obj, "topk_prompt_logprobs")?.unwrap_or(0);
    let mut spec = SampleSpec {
        prompt: parse_prompt(&obj["prompt"])?,
        num_samples: num_samples as u32,
        prompt_logprobs: get_bool(obj, "asample", "prompt_logprobs")?,
        topk_prompt_logprobs: topk,
        topk_sample_logprobs: topk_field(obj, "topk_sample_logprobs")?.unwrap_or(0),
        ..SampleSpec::default()
    };
    parse_params(&obj["sampling_params"], &mut spec)?;
    parse_sdk_extras(obj, &mut spec)?;
    Ok(spec)
}

/// A top-k count, 0 to 100; `None` when absent.
fn topk_field(obj: &Map<String, Value>, key: &str) -> Result<Option<u32>, Answer> {
    match opt_i64(obj, "asample", key)? {
        Some(k) if !(0..=100).contains(&k) => {
            Err(bad("asample", &format!("{key} must be between 0 and 100")))
        }
        k => Ok(k.map(|k| k as u32)),
    }
}

/// The fields only SDK 0.38 sends: `prompt_logprobs_last_n` is honoured; the others are
/// accepted at their defaults (the demo model has nothing to draw or record).
fn parse_sdk_extras(obj: &Map<String, Value>, spec: &mut SampleSpec) -> Result<(), Answer> {
    if let Some(k) = opt_i64(obj, "asample", "prompt_alt_tokens_k")? {
        if k != 0 {
            let detail = "prompt_alt_tokens_k is not supported by the demo server (send 0)";
            return Err(Answer::detail(400, detail));
        }
    }
    if obj.contains_key("target_prompt_logprobs") {
        let detail = "target_prompt_logprobs is not supported by the demo server";
        return Err(Answer::detail(400, detail));
    }
    if obj.contains_key("record_stability_info") {
        get_bool(obj, "asample", "record_stability_info")?;
    }
    if let Some(n) = opt_i64(obj, "asample", "prompt_logprobs_last_n")? {
        let most = spec.prompt.len() as i64 - 1;
        if !spec.prompt_logprobs {
            return Err(bad(
                "asample",
                "prompt_logprobs_last_n needs prompt_logprobs",
            ));
        }
        if n < 1 || n > most {
            let message = format!("prompt_logprobs_last_n must be between 1 and {most}, got {n}");
            return Err(bad("asample", &message));
        }
        spec.prompt_logprobs_last_n = Some(n as u32);
    }
    Ok(())
}

fn parse_prompt(prompt: &Value) -> Result<Vec<u32>, Answer> {
    let what = "asample prompt";
    let prompt = prompt
        .as_object()
        .ok_or_else(|| bad(what, "must be an object"))?;
    check_fields(prompt, what, &["chunks"], &[])?;
    let chunks = prompt["chunks"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad(what, "`chunks` must be a non-empty list"))?;
    let mut tokens = Vec::new();
    for chunk in chunks {
        let chunk = chunk
            .as_object()
            .ok_or_else(|| bad(what, "each chunk must be an object"))?;
        if chunk.get("type").and_then(Value::as_str) == Some("image") {
            tokens.extend(super::images::image_tokens(chunk)?);
            continue;
        }
        check_fields(chunk, "asample prompt chunk", &["tokens", "type"], &[])?;
        check_type(chunk, "asample prompt chunk", "encoded_text")?;
        let ids = chunk["tokens"]
            .as_array()
            .ok_or_else(|| bad(what, "`tokens` must be a list"))?;
        for id in ids {
            let id = id
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| bad(what, "token ids must be non-negative 32-bit integers"))?;
            tokens.push(id);
        }
    }
    if tokens.is_empty() {
        return Err(bad(what, "the prompt has no tokens"));
    }
    Ok(tokens)
}

fn parse_params(params: &Value, spec: &mut SampleSpec) -> Result<(), Answer> {
    let what = "sampling_params";
    let params = params
        .as_object()
        .ok_or_else(|| bad(what, "must be an object"))?;
    check_fields(params, what, &PARAM_KEYS[3..], &PARAM_KEYS[..3])?;
    check_order(params, what, &PARAM_KEYS)?;
    let temperature = get_f64(params, what, "temperature")?;
    if temperature < 0.0 {
        return Err(bad(what, "temperature must be at least 0"));
    }
    let top_k = get_i64(params, what, "top_k")?;
    if top_k != -1 && top_k < 1 {
        return Err(bad(what, "top_k must be -1 (off) or at least 1"));
    }
    let top_p = get_f64(params, what, "top_p")?;
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(bad(what, "top_p must be in (0, 1]"));
    }
    spec.max_tokens = opt_i64(params, what, "max_tokens")?;
    spec.seed = opt_i64(params, what, "seed")?;
    if let Some(stop) = params.get("stop") {
        spec.stop = parse_stop(stop)?;
    }
    Ok(())
}

fn parse_stop(stop: &Value) -> Result<Stop, Answer> {
    let what = "sampling_params";
    // The SDK also allows one string (`stop="\n"`).
    if let Some(one) = stop.as_str() {
        return Ok(Stop::Strings(vec![one.to_string()]));
    }
    let list = stop
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad(what, "`stop` must be a non-empty list (omit it when unset)"))?;
    if let Some(strings) = list.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
        return Ok(Stop::Strings(
            strings.into_iter().map(String::from).collect(),
        ));
    }
    let ids = list
        .iter()
        .map(|v| v.as_u64().and_then(|t| u32::try_from(t).ok()));
    match ids.collect::<Option<Vec<u32>>>() {
        Some(ids) => Ok(Stop::Tokens(ids)),
        None => Err(bad(what, "`stop` must be all strings or all token ids")),
    }
}

/// `POST /api/v1/cancel_future {"request_id"}` (only with `sample_cancel`): forgets the
/// request, so later polls of it are a 404; `{}` when it was known.
pub fn cancel_future(ctx: &Ctx, call: &Call) -> Handled {
    let what = "cancel_future";
    if !ctx.config.sample_cancel {
        return Err(Answer::detail(404, "Not Found"));
    }
    if call.method != "POST" {
        return Err(Answer::detail(405, "Method Not Allowed"));
    }
    let cfg = &ctx.config;
    // The credential rules of a poll: the JWT in JWT mode, else the key.
    let endpoint = super::faults::Endpoint::RetrieveFuture;
    super::auth::check(
        &ctx.jwts,
        cfg.jwt,
        cfg.require_key.as_deref(),
        endpoint,
        call,
    )?;
    let obj = body_object(call)?;
    check_fields(&obj, what, &["request_id"], &[])?;
    let rid = get_str(&obj, what, "request_id")?;
    match ctx.state().requests.remove(rid) {
        Some(_) => Ok(Answer::json(200, &json!({}))),
        None => Err(Answer::detail(404, format!("Request not found: {rid}"))),
    }
}

/// `POST /api/v1/retrieve_future`; `never` answers `try_again` whatever the request's state.
pub fn retrieve_future(ctx: &Ctx, call: &Call, never: bool) -> Handled {
    let what = "retrieve_future";
    let obj = body_object(call)?;
    check_fields(&obj, what, &["request_id"], &["allow_metadata_only"])?;
    let rid = get_str(&obj, what, "request_id")?;
    let iteration = call.header("x-tinker-request-iteration");
    if iteration.and_then(|i| i.parse::<u64>().ok()).is_none() {
        return Err(Answer::detail(
            400,
            "missing or invalid X-Tinker-Request-Iteration header",
        ));
    }
    if call.header("x-tinker-request-type") != Some("Sample") {
        return Err(Answer::detail(400, "X-Tinker-Request-Type must be Sample"));
    }
    let (ready_at, poll) = {
        let mut state = ctx.state();
        let request = state
            .requests
            .get_mut(rid)
            .ok_or_else(|| Answer::detail(404, format!("Request not found: {rid}")))?;
        request.polls += 1;
        (request.ready_at, request.polls - 1)
    };
    let poll_wait = Duration::from_millis(ctx.config.poll_wait_ms);
    if never {
        ctx.stopper.wait(poll_wait);
        return Ok(try_again(ctx, rid));
    }
    if poll < u64::from(ctx.config.try_again) {
        return Ok(try_again(ctx, rid));
    }
    // Long-poll: hold the call until the result is ready, at most poll_wait.
    let now = Instant::now();
    if ready_at > now {
        ctx.stopper.wait(poll_wait.min(ready_at - now));
        if Instant::now() < ready_at {
            return Ok(try_again(ctx, rid));
        }
    }
    let outcome = match ctx.state().requests.get(rid) {
        Some(request) => request.outcome.clone(),
        None => return Err(Answer::detail(404, format!("Request not found: {rid}"))),
    };
    Ok(result_answer(ctx, call, outcome))
}

fn try_again(ctx: &Ctx, rid: &str) -> Answer {
    let reason =
        (ctx.config.queue_state != "active").then_some("demo server: simulated queue state");
    Answer::json(
        200,
        &json!({
            "type": "try_again",
            "request_id": rid,
            "queue_state": ctx.config.queue_state,
            "queue_state_reason": reason,
        }),
    )
}

/// The finished request: a user-category error, or the result in the form the client accepts.
fn result_answer(ctx: &Ctx, call: &Call, outcome: Result<SampleResult, String>) -> Answer {
    let result = match outcome {
        Ok(result) => result,
        Err(error) => return Answer::json(200, &json!({"error": error, "category": "user"})),
    };
    let wants_protobuf = call
        .header("accept")
        .is_some_and(|a| a.contains("application/x-protobuf"));
    if wants_protobuf && !ctx.config.json_only {
        return Answer {
            status: 200,
            content_type: "application/x-protobuf",
            headers: Vec::new(),
            body: proto::to_protobuf(&result),
        };
    }
    Answer::json(200, &proto::to_json(&result))
}
