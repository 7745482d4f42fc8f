//! The service client: configuration handshake, session, heartbeat, sampling sessions.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::client::cancel;
use crate::client::config::{Config, SDK_VERSION};
use crate::client::core::Core;
use crate::client::heartbeat::Heartbeat;
use crate::client::sampling::SamplingClient;
use crate::client::transport::Request;
use crate::client::types::{string_field, to_json, SamplerSpec};
use crate::error::Result;

/// A session with the Tinker service; creates sampling clients.
///
/// ```no_run
/// use tinkex::client::{Config, ServiceClient, SamplerSpec};
///
/// let config = Config::new("tml-…", tinkex::client::DEFAULT_BASE_URL);
/// let service = ServiceClient::new(config)?;
/// let sampler = service.create_sampling_client(SamplerSpec::base_model("Qwen/Qwen3-8B"))?;
/// println!("session {} sampler {}", service.session_id(), sampler.sampling_session_id());
/// service.finish(tinkex::client::FinishReason::Success);
/// # Ok::<(), tinkex::Error>(())
/// ```
pub struct ServiceClient {
    core: Arc<Core>,
    session_id: String,
    heartbeat: Mutex<Option<Heartbeat>>,
    next_sampler: AtomicU64,
    finished: AtomicBool,
}

#[derive(Serialize)]
struct CreateSession<'a> {
    tags: &'a [String],
    user_metadata: serde_json::Map<String, Value>,
    sdk_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct CreateSamplingSession<'a> {
    session_id: &'a str,
    sampling_session_seq_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_path: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl ServiceClient {
    /// Handshakes (`client/config`, JWT exchange when enabled), creates the session
    /// and starts its heartbeat.
    pub fn new(config: Config) -> Result<ServiceClient> {
        let core = Arc::new(Core::connect(config)?);
        let session_id = create_session(&core)?;
        let heartbeat = Heartbeat::start(Arc::clone(&core), session_id.clone());
        Ok(ServiceClient {
            core,
            session_id,
            heartbeat: Mutex::new(Some(heartbeat)),
            next_sampler: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        })
    }

    /// Creates a sampling session for `spec` (a model path must be `tinker://…`).
    pub fn create_sampling_client(&self, spec: SamplerSpec) -> Result<SamplingClient> {
        spec.validate()?;
        const STEP: &str = "creating the sampling session";
        let body = CreateSamplingSession {
            session_id: &self.session_id,
            sampling_session_seq_id: self.next_sampler.fetch_add(1, Ordering::SeqCst),
            base_model: spec.base_model.as_deref(),
            model_path: spec.model_path.as_deref(),
            kind: "create_sampling_session",
        };
        let req = Request::post("/api/v1/create_sampling_session", to_json(&body));
        let answer = self.core.setup_json(STEP, &req, false)?;
        let id = string_field(&answer, "sampling_session_id", STEP)?;
        log::info!("sampling session id: {}", crate::redact::server_text(&id));
        Ok(SamplingClient::new(Arc::clone(&self.core), id, spec))
    }

    /// The server's id for this session.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Best-effort `sessions/<id>/finish` with `reason` (skipped with < 1 s of deadline
    /// left); stops the heartbeat. A run that did not succeed first cancels the requests
    /// still running, when the server enables it. Never fails.
    pub fn finish(&self, reason: FinishReason) {
        self.stop_heartbeat();
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        if reason != FinishReason::Success {
            cancel::cancel_all(&self.core);
        }
        let left = self.core.deadline().remaining();
        if left < std::time::Duration::from_secs(1) {
            log::debug!("skipping sessions/finish: less than 1 s of the deadline left");
            return;
        }
        let body = serde_json::json!({"reason": {"type": reason.wire()}, "detail": null});
        let body = body.to_string();
        let path = format!("/api/v1/sessions/{}/finish", self.session_id);
        let req = Request::post(path, body.into_bytes());
        let timeout = self.core.config.timing.finish_timeout.min(left);
        match self.core.send(&req, timeout, None, false) {
            Ok(reply) if (200..300).contains(&reply.status) => {}
            Ok(reply) => log::debug!("sessions/finish answered HTTP {}", reply.status),
            Err(_) => log::debug!("sessions/finish failed; ignoring"),
        }
    }

    fn stop_heartbeat(&self) {
        let mut guard = self.heartbeat.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hb) = guard.take() {
            hb.stop();
        }
    }
}

/// How a run ended, as `sessions/<id>/finish` names it (the API knows these three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// Everything asked for was done.
    Success,
    /// The run failed or timed out.
    Errored,
    /// A signal ended the run.
    Interrupted,
}

impl FinishReason {
    /// The `reason.type` value sent.
    pub fn wire(self) -> &'static str {
        match self {
            FinishReason::Success => "success",
            FinishReason::Errored => "errored",
            FinishReason::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl Drop for ServiceClient {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

pub(crate) fn create_session(core: &Core) -> Result<String> {
    const STEP: &str = "creating the session";
    let config = &core.config;
    let body = CreateSession {
        tags: &config.tags,
        user_metadata: config.session.metadata_json(),
        sdk_version: SDK_VERSION,
        project_id: config.project_id.as_deref(),
        display_name: config.session.display_name.as_deref(),
        kind: "create_session",
    };
    let req = Request::post("/api/v1/create_session", to_json(&body));
    let answer = core.setup_json(STEP, &req, false)?;
    let session_id = string_field(&answer, "session_id", STEP)?;
    log::info!("session id: {}", crate::redact::server_text(&session_id));
    let message = |key: &str| {
        answer
            .get(key)
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(crate::redact::server_text)
    };
    if let Some(m) = message("info_message") {
        log::info!("server: {m}");
    }
    if let Some(m) = message("warning_message") {
        log::warn!("server: {m}");
    }
    if let Some(m) = message("error_message") {
        log::error!("server: {m}");
    }
    Ok(session_id)
}
