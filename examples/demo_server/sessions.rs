//! The session-level endpoints (config, auth, sessions, sampling sessions, finish) and their state.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::handlers::Ctx;
use super::reply::{
    body_object, check_fields, check_type, get_i64, get_str, Answer, Call, Handled,
};
use super::sampling::{RequestState, SeqIds};

/// The `sdk_version` tinkex must send (docs/protocol.md).
const SDK_VERSION: &str = "0.38.0";

/// The server's memory of what clients created.
#[derive(Default)]
pub struct State {
    counter: u64,
    /// Sessions by id.
    pub sessions: HashMap<String, SessionState>,
    /// Sampling sessions by id.
    pub samplers: HashMap<String, SamplerState>,
    /// Sample requests by id.
    pub requests: HashMap<String, RequestState>,
}

impl State {
    /// A new id like `demo-session-3`, unique within this server.
    pub fn new_id(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("demo-{kind}-{}", self.counter)
    }
}

/// One session.
pub struct SessionState {
    finished: bool,
    sampling_sessions: i64,
}

/// One sampling session.
pub struct SamplerState {
    base_model: Option<String>,
    model_path: Option<String>,
    /// The `seq_id`s accepted by asample.
    pub seqs: SeqIds,
}

fn check_sdk_version(obj: &serde_json::Map<String, Value>, what: &str) -> Result<(), Answer> {
    let got = get_str(obj, what, "sdk_version")?;
    if got == SDK_VERSION {
        return Ok(());
    }
    Err(Answer::detail(
        422,
        format!("{what}: sdk_version must be \"{SDK_VERSION}\", got \"{got}\""),
    ))
}

/// `POST /api/v1/client/config`: feature flags, with unknown extras a client must ignore.
pub fn client_config(ctx: &Ctx, call: &Call) -> Handled {
    let obj = body_object(call)?;
    check_fields(&obj, "client/config", &["sdk_version"], &[])?;
    check_sdk_version(&obj, "client/config")?;
    Ok(Answer::json(
        200,
        &json!({
            "pjwt_auth_enabled": ctx.config.jwt,
            "credential_default_source": "api_key",
            "sample_dispatch_bytes_semaphore_size": 10_485_760,
            "sample_cancel_enabled": ctx.config.sample_cancel,
            "demo_server": true,
        }),
    ))
}

/// `POST /api/v1/auth/token`: exchanges the raw key for a JWT (JWT mode only).
pub fn auth_token(ctx: &Ctx, call: &Call) -> Handled {
    if !ctx.config.jwt {
        return Err(Answer::detail(
            404,
            "JWT auth is not enabled on this server",
        ));
    }
    let obj = body_object(call)?;
    check_fields(&obj, "auth/token", &[], &[])?;
    let jwt = ctx.jwts.issue(ctx.config.jwt_ttl_secs);
    Ok(Answer::json(200, &json!({ "jwt": jwt })))
}

/// `POST /api/v1/create_session`.
pub fn create_session(ctx: &Ctx, call: &Call) -> Handled {
    let what = "create_session";
    let obj = body_object(call)?;
    let required = ["tags", "user_metadata", "sdk_version", "type"];
    check_fields(&obj, what, &required, &["project_id", "display_name"])?;
    check_type(&obj, what, "create_session")?;
    check_sdk_version(&obj, what)?;
    let tags_ok = obj["tags"]
        .as_array()
        .is_some_and(|t| t.iter().all(Value::is_string));
    if !tags_ok {
        return Err(Answer::detail(
            422,
            "create_session: `tags` must be a list of strings",
        ));
    }
    if !obj["user_metadata"].is_object() {
        return Err(Answer::detail(
            422,
            "create_session: `user_metadata` must be an object",
        ));
    }
    if obj.contains_key("project_id") {
        get_str(&obj, what, "project_id")?;
    }
    if obj.contains_key("display_name") {
        get_str(&obj, what, "display_name")?;
    }
    let mut state = ctx.state();
    let sid = state.new_id("session");
    let session = SessionState {
        finished: false,
        sampling_sessions: 0,
    };
    state.sessions.insert(sid.clone(), session);
    Ok(Answer::json(
        200,
        &json!({"session_id": sid, "info_message": null, "warning_message": null, "error_message": null}),
    ))
}

fn session_not_found(sid: &str) -> Answer {
    Answer::detail(404, format!("Session not found: {sid}"))
}

/// `POST /api/v1/session_heartbeat`: 410 once the session is finished.
pub fn heartbeat(ctx: &Ctx, call: &Call) -> Handled {
    let obj = body_object(call)?;
    check_fields(&obj, "session_heartbeat", &["session_id", "type"], &[])?;
    check_type(&obj, "session_heartbeat", "session_heartbeat")?;
    let sid = get_str(&obj, "session_heartbeat", "session_id")?;
    match ctx.state().sessions.get(sid) {
        None => Err(session_not_found(sid)),
        Some(s) if s.finished => Err(Answer::detail(410, format!("Session is finished: {sid}"))),
        Some(_) => Ok(Answer::json(200, &json!({"type": "session_heartbeat"}))),
    }
}

/// `POST /api/v1/create_sampling_session`: `sampling_session_seq_id` counts up per session.
pub fn create_sampling_session(ctx: &Ctx, call: &Call) -> Handled {
    let what = "create_sampling_session";
    let obj = body_object(call)?;
    let required = ["session_id", "sampling_session_seq_id", "type"];
    check_fields(&obj, what, &required, &["base_model", "model_path"])?;
    check_type(&obj, what, what)?;
    let sid = get_str(&obj, what, "session_id")?;
    let seq = get_i64(&obj, what, "sampling_session_seq_id")?;
    let base_model = obj
        .get("base_model")
        .map(|_| get_str(&obj, what, "base_model"))
        .transpose()?;
    let model_path = obj
        .get("model_path")
        .map(|_| get_str(&obj, what, "model_path"))
        .transpose()?;
    if base_model.is_none() && model_path.is_none() {
        return Err(Answer::detail(
            422,
            format!("{what}: give base_model or model_path"),
        ));
    }
    if base_model.is_some_and(str::is_empty) {
        return Err(Answer::detail(422, format!("{what}: base_model is empty")));
    }
    if model_path.is_some_and(|p| !p.starts_with("tinker://")) {
        return Err(Answer::detail(
            400,
            format!("{what}: model_path must be a tinker:// path"),
        ));
    }
    let mut state = ctx.state();
    let session = state
        .sessions
        .get_mut(sid)
        .ok_or_else(|| session_not_found(sid))?;
    // The next id, or the last one again (a retry whose answer was lost).
    let next = session.sampling_sessions;
    if seq != next && seq != next - 1 {
        let detail =
            format!("{what}: sampling_session_seq_id {seq} is out of sequence (expected {next})");
        return Err(Answer::detail(400, detail));
    }
    session.sampling_sessions = next.max(seq + 1);
    let ssid = state.new_id("sampler");
    let sampler = SamplerState {
        base_model: base_model.map(String::from),
        model_path: model_path.map(String::from),
        seqs: SeqIds::default(),
    };
    state.samplers.insert(ssid.clone(), sampler);
    Ok(Answer::json(200, &json!({ "sampling_session_id": ssid })))
}

/// `GET /api/v1/samplers/<id>`.
pub fn sampler_info(ctx: &Ctx, ssid: &str) -> Handled {
    let state = ctx.state();
    let sampler = state
        .samplers
        .get(ssid)
        .ok_or_else(|| Answer::detail(404, format!("Sampler not found: {ssid}")))?;
    let base_model = sampler
        .base_model
        .clone()
        .unwrap_or_else(|| ctx.config.base_model.clone());
    Ok(Answer::json(
        200,
        &json!({"sampler_id": ssid, "base_model": base_model, "model_path": sampler.model_path}),
    ))
}

/// `POST /api/v1/sessions/<id>/finish`.
pub fn finish(ctx: &Ctx, sid: &str, call: &Call) -> Handled {
    let what = "sessions/finish";
    let obj = body_object(call)?;
    if let Some(key) = obj.keys().find(|k| *k != "reason" && *k != "detail") {
        return Err(Answer::detail(
            422,
            format!("{what}: unknown field `{key}`"),
        ));
    }
    let reason = obj
        .get("reason")
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str);
    // The API's three values (the SDK's `success`, `errored`, `interrupted`).
    if !matches!(reason, Some("success" | "errored" | "interrupted")) {
        let detail = format!(
            "{what}: `reason` must be {{\"type\": \"success\" | \"errored\" | \"interrupted\"}}"
        );
        return Err(Answer::detail(422, detail));
    }
    if !obj
        .get("detail")
        .is_some_and(|d| d.is_null() || d.is_string())
    {
        return Err(Answer::detail(
            422,
            format!("{what}: `detail` must be null or a string"),
        ));
    }
    let mut state = ctx.state();
    let session = state
        .sessions
        .get_mut(sid)
        .ok_or_else(|| session_not_found(sid))?;
    session.finished = true;
    Ok(Answer::json(200, &json!({})))
}
