//! The read commands' client: models, training runs and checkpoints, as plain authenticated
//! GETs after the handshake (no session, no heartbeat), and the access check of `auth status`.

mod paging;
mod types;

use serde::de::DeserializeOwned;

use crate::client::auth;
use crate::client::config::{Config, CredentialSource};
use crate::client::core::{Core, Failure};
use crate::client::status;
use crate::client::transport::{NetError, Request};
use crate::error::{Error, Result};

pub use paging::{CHECKPOINT_PAGE, MAX_LISTED, MAX_LISTED_BYTES, RUN_PAGE};
use types::{Capabilities, CheckpointsPage, RunsPage};
pub use types::{
    Checkpoint, CheckpointInfo, CheckpointPath, Cursor, Lenient, Listing, SupportedModel,
    TrainingRun,
};

const CAPABILITIES: &str = "/api/v1/get_server_capabilities";

/// A handshaken connection for read-only calls.
///
/// ```no_run
/// use tinkex::client::{CatalogClient, Config};
///
/// let catalog = CatalogClient::connect(Config::new("tml-…", tinkex::client::DEFAULT_BASE_URL))?;
/// for model in catalog.models()? {
///     println!("{}", model.model_name.unwrap_or_default());
/// }
/// # Ok::<(), tinkex::Error>(())
/// ```
pub struct CatalogClient {
    core: Core,
}

impl std::fmt::Debug for CatalogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogClient")
            .field("base_url", &self.core.config.base_url)
            .finish_non_exhaustive()
    }
}

impl CatalogClient {
    /// Validates the credential and makes the handshake (`client/config`, the JWT exchange
    /// when the server asks for it).
    pub fn connect(config: Config) -> Result<CatalogClient> {
        Ok(CatalogClient {
            core: Core::connect(config)?,
        })
    }

    /// [`CatalogClient::connect`] without retries: one attempt of each handshake request, for
    /// `auth status`, which reports at once whether the server and the credential work.
    pub fn connect_once(mut config: Config) -> Result<CatalogClient> {
        config.timing.setup_retries = false;
        CatalogClient::connect(config)
    }

    /// Where the credential in use came from.
    pub fn credential_source(&self) -> &CredentialSource {
        &self.core.config.credential_source
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.core.config.base_url
    }

    /// Every model the server offers, in its order.
    pub fn models(&self) -> Result<Vec<SupportedModel>> {
        let answer: Capabilities = self.get("listing the models", CAPABILITIES)?;
        Ok(answer.supported_models)
    }

    /// One `get_server_capabilities` call, not retried: Ok when the server accepts the
    /// credential; a refusal, a 402 (billing) or a failure is an error at once.
    pub fn check_access(&self) -> Result<()> {
        const STEP: &str = "checking access";
        let deadline = self.core.deadline();
        let timeout = deadline.cap(self.core.config.timing.request_timeout);
        let reply = match self
            .core
            .send(&Request::get(CAPABILITIES), timeout, None, false)
        {
            Ok(reply) => reply,
            Err(Failure::Fatal(err)) => return Err(err),
            Err(Failure::Net(err)) => {
                deadline.check(STEP)?;
                return Err(match err {
                    NetError::TooLarge => status::net_fatal(STEP, &err, None),
                    other => Error::Network(format!(
                        "{STEP} failed: cannot reach {} ({})",
                        self.core.config.base_url,
                        other.cause()
                    )),
                });
            }
        };
        match reply.status {
            200..=299 => Ok(()),
            402 => Err(billing_refused(&reply.body)),
            401 | 403 => Err(auth::refused(STEP, reply.status, &reply.body)),
            _ => Err(status::reply_error(STEP, &reply, None)),
        }
    }

    /// Training runs the credential owns: `limit` of them (`None` = all), in pages of
    /// [`RUN_PAGE`].
    pub fn training_runs(&self, limit: Option<u64>) -> Result<Listing<TrainingRun>> {
        paging::fetch(limit, RUN_PAGE, |want, offset| {
            let path =
                format!("/api/v1/training_runs?limit={want}&offset={offset}&access_scope=owned");
            let (page, bytes): (RunsPage, u64) =
                self.get_sized("listing the training runs", &path)?;
            Ok((page.training_runs, page.cursor, bytes))
        })
    }

    /// One training run.
    pub fn training_run(&self, id: &str) -> Result<TrainingRun> {
        let path = format!(
            "/api/v1/training_runs/{}?access_scope=owned",
            path_segment(id)
        );
        self.get(&format!("fetching training run {id}"), &path)
    }

    /// Checkpoints of every run the credential owns: `limit` of them (`None` = all), in
    /// pages of [`CHECKPOINT_PAGE`].
    pub fn checkpoints(&self, limit: Option<u64>) -> Result<Listing<Checkpoint>> {
        paging::fetch(limit, CHECKPOINT_PAGE, |want, offset| {
            let path = format!("/api/v1/checkpoints?limit={want}&offset={offset}");
            let (page, bytes): (CheckpointsPage, u64) =
                self.get_sized("listing the checkpoints", &path)?;
            Ok((page.checkpoints, page.cursor, bytes))
        })
    }

    /// Every checkpoint of one run (the server does not page these).
    pub fn run_checkpoints(&self, run_id: &str) -> Result<Vec<Checkpoint>> {
        let path = format!("/api/v1/training_runs/{}/checkpoints", path_segment(run_id));
        let page: CheckpointsPage =
            self.get(&format!("listing the checkpoints of run {run_id}"), &path)?;
        Ok(page.checkpoints)
    }

    /// The checkpoint at `path`, found in its run's list, with the run's LoRA settings.
    pub fn checkpoint_info(&self, path: &CheckpointPath) -> Result<CheckpointInfo> {
        let checkpoint = self
            .run_checkpoints(&path.training_run_id)?
            .into_iter()
            .find(|c| c.tinker_path.as_deref() == Some(path.path.as_str()))
            .ok_or_else(|| Error::Input {
                message: format!("checkpoint not found: {}", path.path),
                hint: Some(format!(
                    "run 'tinkex checkpoint list --run-id {}' for the run's checkpoints",
                    path.training_run_id
                )),
            })?;
        let run = self.training_run(&path.training_run_id)?;
        Ok(CheckpointInfo {
            checkpoint,
            is_lora: run.is_lora,
            lora_rank: run.lora_rank,
        })
    }

    /// A GET with the retry rules of setup calls, its JSON answer decoded as `T`.
    fn get<T: DeserializeOwned>(&self, step: &str, path: &str) -> Result<T> {
        Ok(self.get_sized(step, path)?.0)
    }

    /// [`Self::get`], and the answer's size as compact JSON (what a listing holds of it).
    fn get_sized<T: DeserializeOwned>(&self, step: &str, path: &str) -> Result<(T, u64)> {
        let value = self.core.setup_json(step, &Request::get(path), false)?;
        let mut counter = ByteCounter(0);
        // Writing to a counter cannot fail; a failure would only make the count low.
        let _ = serde_json::to_writer(&mut counter, &value);
        let decoded = serde_json::from_value(value)
            .map_err(|e| status::bad_answer(step, &e.to_string(), None))?;
        Ok((decoded, counter.0))
    }
}

/// Counts the bytes written to it and keeps none.
struct ByteCounter(u64);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A 402: the account cannot use Tinker until billing is set up.
fn billing_refused(body: &[u8]) -> Error {
    let mut message =
        "the server accepted the credential, but billing is not set up for this account (HTTP 402)"
            .to_string();
    if let Some(text) = status::server_text(body) {
        message.push_str(&format!(": \"{text}\""));
    }
    Error::Auth {
        message,
        hint: Some("set up billing for the account in the Tinker console".to_string()),
    }
}

/// `text` percent-encoded as one URL path segment (ids come from the command line).
pub(crate) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_leave_their_path_segment() {
        assert_eq!(path_segment("run-1_a.b~"), "run-1_a.b~");
        assert_eq!(path_segment("../x?y=1#z"), "..%2Fx%3Fy%3D1%23z");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
