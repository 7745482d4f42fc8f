//! The authenticated Tinker calls a checkpoint download needs: signed URLs, the archive
//! endpoint, and the temporary export of training weights (session, load, save, delete).
//!
//! Only the Tinker API is spoken here; the signed URLs themselves are fetched elsewhere,
//! by an agent that never holds the credential.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::config::Config;
use crate::client::core::{fatal_reply, Core, Failure};
use crate::client::heartbeat::Heartbeat;
use crate::client::retry::{self, VirtualClock};
use crate::client::service::create_session;
use crate::client::status;
use crate::client::transport::{Method, NetError, Request};
use crate::error::Result;

/// How long a temporary export lives; renewed each time its URLs are signed.
pub const EXPORT_TTL_SECONDS: u64 = 3600;
/// What the official CLI records as the creator of the temporary training run.
const CREATED_BY: &str = "tinker checkpoint download";
/// Archive answers of 503 ("still being built") waited for, at most.
const ARCHIVE_BUILD_WAIT: Duration = Duration::from_secs(30);
/// Polls of one future, at most (each is held by the server or answered at once).
const MAX_POLLS: u32 = 100_000;

/// Signed URLs of an external-weights checkpoint, keyed by relative file path.
#[derive(Debug, Clone, Deserialize)]
pub struct SignedUrls {
    /// Relative path → signed URL (sorted: files are fetched in this order).
    pub urls: BTreeMap<String, String>,
    /// When the URLs stop working, as the server wrote it (RFC 3339), if it said.
    #[serde(default)]
    pub expires: Option<String>,
}

/// Where a sampler checkpoint's archive can be fetched.
#[derive(Debug, Clone)]
pub struct ArchiveUrl {
    /// The signed URL.
    pub url: String,
    /// When it stops working, if the server said (RFC 3339 or an HTTP date).
    pub expires: Option<String>,
}

/// How a temporary export's session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The download completed.
    Success,
    /// Something failed.
    Errored,
    /// A signal or the user stopped it.
    Interrupted,
}

/// A handshaken connection for the download calls.
pub struct ExportClient {
    core: Arc<Core>,
}

impl std::fmt::Debug for ExportClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportClient")
            .field("base_url", &self.core.config.base_url)
            .finish_non_exhaustive()
    }
}

/// A training session holding a temporary export; the heartbeat runs while it lives.
pub struct ExportSession {
    /// The server's session id.
    pub session_id: String,
    heartbeat: Option<Heartbeat>,
}

impl std::fmt::Debug for ExportSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportSession")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl ExportClient {
    /// Validates the credential and makes the handshake.
    pub fn connect(config: Config) -> Result<ExportClient> {
        Ok(ExportClient {
            core: Arc::new(Core::connect(config)?),
        })
    }

    /// The run's deadline (every wait of a download draws on it).
    pub fn deadline(&self) -> &crate::Deadline {
        self.core.deadline()
    }

    /// `GET …/external_weights_urls` for `run`'s checkpoint `id` (`external_weights/NAME`).
    pub fn external_urls(&self, run: &str, id: &str) -> Result<SignedUrls> {
        let step = "asking for the checkpoint's download URLs";
        let path = format!("{}/external_weights_urls", checkpoint_path(run, id));
        let req = Request::get(path).secret_answer(&["urls"]);
        let value = self.core.setup_json(step, &req, false)?;
        serde_json::from_value(value).map_err(|e| status::bad_answer(step, &e.to_string(), None))
    }

    /// `PUT …/ttl {"ttl_seconds"}`: keeps a temporary export alive while it downloads.
    pub fn renew_ttl(&self, run: &str, id: &str, ttl_seconds: u64) -> Result<()> {
        let body = json!({ "ttl_seconds": ttl_seconds })
            .to_string()
            .into_bytes();
        let path = format!("{}/ttl", checkpoint_path(run, id));
        let req = Request::with_method(Method::Put, path, Some(body));
        self.core
            .setup_call("renewing the export's lifetime", &req, false)
            .map(drop)
    }

    /// `DELETE` of the checkpoint `id` of `run` (the temporary export).
    pub fn delete_checkpoint(&self, run: &str, id: &str) -> Result<()> {
        let req = Request::with_method(Method::Delete, checkpoint_path(run, id), None);
        self.core
            .setup_call("deleting the temporary export", &req, false)
            .map(drop)
    }

    /// The archive endpoint of a sampler checkpoint: a 302 `Location` or a 200 `{"url"}`;
    /// a 503 (still being built) is waited out within the deadline.
    pub fn archive_url(&self, run: &str, id: &str) -> Result<ArchiveUrl> {
        let step = "asking for the checkpoint archive";
        let req = Request::get(format!("{}/archive", checkpoint_path(run, id)));
        let deadline = self.core.deadline();
        let mut clock = VirtualClock::start();
        loop {
            deadline.check(step)?;
            let timeout = deadline.cap(self.core.config.timing.request_timeout);
            let reply = match self.core.send(&req, timeout, None, false) {
                Ok(reply) => reply,
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::Net(NetError::TooLarge)) => {
                    return Err(status::net_fatal(step, &NetError::TooLarge, None))
                }
                Err(Failure::Net(err)) => {
                    self.core.note_unreachable(&err, deadline, clock.elapsed());
                    let pause = retry::setup_delay(0, None);
                    self.core
                        .config
                        .retry
                        .sleep(&mut clock, pause, deadline, step)?;
                    continue;
                }
            };
            match reply.status {
                301 | 302 | 303 | 307 | 308 if !reply.location.is_empty() => {
                    crate::redact::register_secret(&reply.location);
                    return Ok(ArchiveUrl {
                        url: reply.location,
                        expires: None,
                    });
                }
                200 => return archive_from_json(step, &reply.body),
                502..=504 => {
                    let wait = reply.retry_after.unwrap_or(ARCHIVE_BUILD_WAIT);
                    log::info!(
                        target: crate::client::STATUS_TARGET,
                        "the checkpoint archive is being built; waiting"
                    );
                    let policy = &self.core.config.retry;
                    policy.sleep(&mut clock, wait.min(ARCHIVE_BUILD_WAIT), deadline, step)?;
                }
                _ => return Err(fatal_reply(step, &reply, None)),
            }
        }
    }

    /// `create_session`, with its heartbeat, for a temporary export.
    pub fn start_session(&self) -> Result<ExportSession> {
        let session_id = create_session(&self.core)?;
        let heartbeat = Heartbeat::start(Arc::clone(&self.core), session_id.clone());
        Ok(ExportSession {
            session_id,
            heartbeat: Some(heartbeat),
        })
    }

    /// `load_weights` of `path` into model 0 of the session, waited for, then `get_info`;
    /// the model id.
    pub fn load_weights(&self, session: &ExportSession, path: &str) -> Result<String> {
        let body = json!({
            "session_id": session.session_id,
            "model_seq_id": 0,
            "user_metadata": {"created_by": CREATED_BY},
            "path": path,
            "optimizer": false,
            "type": "load_weights",
        });
        self.submit_and_wait("loading the checkpoint", "/api/v1/load_weights", &body)?;
        let model_id = format!("{}:train:0", session.session_id);
        // The official CLI asks for the model's info once it is loaded; so do we, to send
        // the same sequence (the answer is not needed).
        let info = json!({ "model_id": model_id, "type": "get_info" }).to_string();
        let req = Request::post("/api/v1/get_info", info.into_bytes());
        self.core
            .setup_json("loading the checkpoint", &req, false)?;
        Ok(model_id)
    }

    /// `save_weights_external` of the model as `download`; the export's `tinker://` path.
    pub fn save_external(&self, model_id: &str) -> Result<String> {
        let step = "exporting the weights";
        let body = json!({
            "model_id": model_id,
            "path": "download",
            "seq_id": 1,
            "ttl_seconds": EXPORT_TTL_SECONDS,
            "type": "save_weights_external",
        });
        let result = self.submit_and_wait(step, "/api/v1/save_weights_external", &body)?;
        match result.get("path").and_then(Value::as_str) {
            Some(path) if path.starts_with("tinker://") => Ok(path.to_string()),
            _ => Err(status::bad_answer(
                step,
                "no tinker:// path in the result",
                None,
            )),
        }
    }

    /// `sessions/{id}/finish` with `end`'s reason; best effort, never fails.
    pub fn finish_session(&self, mut session: ExportSession, end: SessionEnd) {
        if let Some(hb) = session.heartbeat.take() {
            hb.stop();
        }
        let reason = match end {
            SessionEnd::Success => "success",
            SessionEnd::Errored => "errored",
            SessionEnd::Interrupted => "interrupted",
        };
        let body = json!({"reason": {"type": reason}, "detail": null}).to_string();
        let path = format!("/api/v1/sessions/{}/finish", session.session_id);
        let req = Request::post(path, body.into_bytes());
        let left = self.core.deadline().remaining().max(Duration::from_secs(1));
        let timeout = self.core.config.timing.finish_timeout.min(left);
        match self.core.send(&req, timeout, None, false) {
            Ok(reply) if (200..300).contains(&reply.status) => {}
            Ok(reply) => log::debug!("sessions/finish answered HTTP {}", reply.status),
            Err(_) => log::debug!("sessions/finish failed; ignoring"),
        }
    }

    /// POSTs `body` (answered with a `request_id`), then polls `retrieve_future` for it.
    fn submit_and_wait(&self, step: &str, path: &str, body: &Value) -> Result<Value> {
        let req = Request::post(path, body.to_string().into_bytes());
        let answer = self.core.setup_json(step, &req, false)?;
        let Some(rid) = answer.get("request_id").and_then(Value::as_str) else {
            return Ok(answer);
        };
        let poll = json!({ "request_id": rid, "allow_metadata_only": true });
        let poll = poll.to_string().into_bytes();
        let poll = Request::post("/api/v1/retrieve_future", poll);
        for _ in 0..MAX_POLLS {
            let value = self.core.setup_json(step, &poll, false)?;
            if value.get("type").and_then(Value::as_str) != Some("try_again") {
                return Ok(value);
            }
            self.core.deadline().check(step)?;
        }
        Err(status::bad_answer(
            step,
            "the result never became ready",
            Some(rid),
        ))
    }
}

/// `/api/v1/training_runs/{run}/checkpoints/{id}`, each piece percent-encoded but the `/`
/// inside the checkpoint id.
fn checkpoint_path(run: &str, id: &str) -> String {
    let id: Vec<String> = id.split('/').map(segment).collect();
    format!(
        "/api/v1/training_runs/{}/checkpoints/{}",
        segment(run),
        id.join("/")
    )
}

/// `text` percent-encoded as one URL path segment.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A 200 archive answer: `{"url", "expires"}`.
fn archive_from_json(step: &str, body: &[u8]) -> Result<ArchiveUrl> {
    #[derive(Deserialize)]
    struct Answer {
        url: String,
        #[serde(default)]
        expires: Option<String>,
    }
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| status::bad_answer(step, &e.to_string(), None))?;
    crate::redact::register_secret(&answer.url);
    Ok(ArchiveUrl {
        url: answer.url,
        expires: answer.expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_paths_keep_the_type_slash_and_encode_the_rest() {
        assert_eq!(
            checkpoint_path("run:1", "external_weights/a b"),
            "/api/v1/training_runs/run:1/checkpoints/external_weights/a%20b"
        );
    }
}
