//! Checkpoint lifecycle: publish, unpublish, set-ttl and delete as plain authenticated calls
//! after the handshake, the `--run-id` selection of what to delete, and a bounded
//! concurrent delete runner that collects every failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Deserialize;

use crate::client::catalog::{path_segment, Checkpoint, CheckpointPath};
use crate::client::config::Config;
use crate::client::core::Core;
use crate::client::status;
use crate::client::transport::{Method, Request};
use crate::client::when::{self, Nanos};
use crate::error::{Error, Result};

/// At most this many deletes are in flight at once (the official CLI's pool size).
pub const DELETE_CONCURRENCY: usize = 32;
/// The shortest TTL the server accepts: one hour.
pub const MIN_TTL_SECS: u64 = 3600;
/// The longest TTL the server accepts: ten years of 365 days.
pub const MAX_TTL_SECS: u64 = 3650 * 86_400;

/// What a publish or unpublish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The checkpoint changed state.
    Changed,
    /// It already was in that state (HTTP 409, answered once and not retried).
    Already,
}

/// The outcome of a batch of deletes, in the order the paths were given.
#[derive(Debug, Default)]
pub struct DeleteReport {
    /// Paths deleted.
    pub deleted: Vec<String>,
    /// Paths that failed, with why.
    pub failed: Vec<(String, Error)>,
}

/// A handshaken connection for the lifecycle calls.
pub struct LifecycleClient {
    core: Core,
}

impl std::fmt::Debug for LifecycleClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifecycleClient")
            .field("base_url", &self.core.config.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RunCheckpoints {
    checkpoints: Vec<Checkpoint>,
}

impl LifecycleClient {
    /// Validates the credential and makes the handshake.
    pub fn connect(config: Config) -> Result<LifecycleClient> {
        Ok(LifecycleClient {
            core: Core::connect(config)?,
        })
    }

    /// `POST …/publish`; a 409 means it already was public.
    pub fn publish(&self, path: &CheckpointPath) -> Result<Visibility> {
        self.visibility(path, Method::Post, "publishing")
    }

    /// `DELETE …/publish`; a 409 means it already was private.
    pub fn unpublish(&self, path: &CheckpointPath) -> Result<Visibility> {
        self.visibility(path, Method::Delete, "unpublishing")
    }

    fn visibility(&self, path: &CheckpointPath, method: Method, verb: &str) -> Result<Visibility> {
        let step = format!("{verb} {}", path.path);
        let body = (method == Method::Post).then(Vec::new);
        let req = Request::with_method(method, format!("{}/publish", endpoint(path)), body);
        let reply =
            self.core
                .call_accepting(&step, &req, false, &[409], &self.core.step_deadline())?;
        Ok(if reply.status == 409 {
            Visibility::Already
        } else {
            Visibility::Changed
        })
    }

    /// `PUT …/ttl` with `{"ttl_seconds": S}`, or `null` to remove the expiry.
    pub fn set_ttl(&self, path: &CheckpointPath, ttl_seconds: Option<u64>) -> Result<()> {
        let step = format!("setting the TTL of {}", path.path);
        let body = serde_json::json!({ "ttl_seconds": ttl_seconds }).to_string();
        let req = Request::with_method(
            Method::Put,
            format!("{}/ttl", endpoint(path)),
            Some(body.into_bytes()),
        );
        self.core.setup_call(&step, &req, false).map(drop)
    }

    /// `DELETE` of one checkpoint (404: unknown checkpoint, a user error).
    pub fn delete(&self, path: &CheckpointPath) -> Result<()> {
        let step = format!("deleting {}", path.path);
        let req = Request::with_method(Method::Delete, endpoint(path), None);
        self.core.setup_call(&step, &req, false).map(drop)
    }

    /// Deletes every path with at most [`DELETE_CONCURRENCY`] in flight; each failure is
    /// kept and the rest go on. Every worker ends when the paths or the deadline do.
    pub fn delete_all(&self, paths: &[CheckpointPath]) -> DeleteReport {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<()>>>> =
            Mutex::new((0..paths.len()).map(|_| None).collect());
        let workers = paths.len().clamp(1, DELETE_CONCURRENCY);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(path) = paths.get(i) else { break };
                    let outcome = self.delete(path);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(outcome);
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut report = DeleteReport::default();
        for (path, outcome) in paths.iter().zip(results) {
            match outcome.unwrap_or_else(|| Err(Error::Unexpected("delete not run".into()))) {
                Ok(()) => report.deleted.push(path.path.clone()),
                Err(err) => report.failed.push((path.path.clone(), err)),
            }
        }
        report
    }

    /// Every checkpoint of one run (what a `--run-id` selection reads).
    pub fn run_checkpoints(&self, run_id: &str) -> Result<Vec<Checkpoint>> {
        let step = format!("listing the checkpoints of run {run_id}");
        let path = format!("/api/v1/training_runs/{}/checkpoints", path_segment(run_id));
        let value = self.core.setup_json(&step, &Request::get(path), false)?;
        let page: RunCheckpoints = serde_json::from_value(value)
            .map_err(|e| status::bad_answer(&step, &e.to_string(), None))?;
        Ok(page.checkpoints)
    }
}

/// `/api/v1/training_runs/{run}/checkpoints/{kind}/{name}`, each segment percent-encoded.
fn endpoint(path: &CheckpointPath) -> String {
    let rest = path.path.trim_start_matches("tinker://");
    let mut parts = rest.splitn(3, '/').skip(1);
    let kind = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    format!(
        "/api/v1/training_runs/{}/checkpoints/{}/{}",
        path_segment(&path.training_run_id),
        path_segment(kind),
        path_segment(name)
    )
}

/// Parses a command-line checkpoint path; the error names `what` (the argument).
pub fn parse_path(text: &str, what: &str) -> Result<CheckpointPath> {
    CheckpointPath::parse(text).ok_or_else(|| Error::Input {
        message: format!(
            "{what}: not a checkpoint path: {}",
            crate::redact::server_text(text)
        ),
        hint: Some("a checkpoint path looks like tinker://RUN_ID/weights/000500".to_string()),
    })
}

/// Checks a TTL against the server's range before any request; the error names `--ttl`.
pub fn check_ttl(seconds: u64) -> Result<u64> {
    if (MIN_TTL_SECS..=MAX_TTL_SECS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(Error::usage(format!(
            "--ttl: {seconds} s is outside what the server accepts (1 hour to 10 years, \
             3600 to {MAX_TTL_SECS} s)"
        )))
    }
}

/// Which of a run's checkpoints a `delete --run-id` picks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// `--type`: `training`, `sampler` or `external` (the server's names).
    pub checkpoint_type: Option<&'static str>,
    /// `--before`: strictly older than this instant.
    pub before: Option<Nanos>,
    /// `--after`: strictly newer than this instant.
    pub after: Option<Nanos>,
    /// `--keep-last N`: spare the N newest of what the other filters picked.
    pub keep_last: Option<usize>,
}

/// `--type` as the official CLI takes it (`weights` or `training`, …); `None` if unknown.
pub fn checkpoint_type(text: &str) -> Option<&'static str> {
    match text {
        "weights" | "training" => Some("training"),
        "sampler_weights" | "sampler" => Some("sampler"),
        "external_weights" | "external" => Some("external"),
        _ => None,
    }
}

/// `--before`/`--after`: RFC 3339 or `YYYY-MM-DD` (UTC); the error names the flag.
pub fn parse_time_flag(flag: &str, text: &str) -> Result<Nanos> {
    when::parse_instant(text).ok_or_else(|| {
        Error::usage(format!(
            "{flag}: not a time: '{}' (use RFC 3339, e.g. 2026-01-31T08:00:00Z, or YYYY-MM-DD, UTC)",
            crate::redact::server_text(text)
        ))
    })
}

impl Selection {
    /// The checkpoints to delete, in the server's order.
    ///
    /// A checkpoint whose time is missing or unreadable is never picked by `--before`,
    /// `--after` or `--keep-last` (it cannot be placed in time: sparing it is the safe
    /// side). With `--keep-last N`, ties in time are kept together: everything as new as
    /// the N-th newest survives, so no kept checkpoint is newer than a deleted one.
    pub fn pick(&self, checkpoints: &[Checkpoint]) -> Vec<Checkpoint> {
        let timed = |c: &Checkpoint| c.time.as_deref().and_then(when::parse_instant);
        let timing = self.before.is_some() || self.after.is_some() || self.keep_last.is_some();
        let picked: Vec<(&Checkpoint, Option<Nanos>)> = checkpoints
            .iter()
            .map(|c| (c, timed(c)))
            .filter(|(c, _)| {
                self.checkpoint_type
                    .is_none_or(|t| c.checkpoint_type.as_deref() == Some(t))
            })
            .filter(|(_, t)| !timing || t.is_some())
            .filter(|(_, t)| self.before.is_none_or(|b| t.is_some_and(|t| t < b)))
            .filter(|(_, t)| self.after.is_none_or(|a| t.is_some_and(|t| t > a)))
            .collect();
        let cutoff = self.keep_last.and_then(|n| {
            let mut times: Vec<Nanos> = picked.iter().filter_map(|(_, t)| *t).collect();
            times.sort_unstable_by(|a, b| b.cmp(a));
            match n {
                0 => None,
                n => Some(times.get(n - 1).copied().unwrap_or(Nanos::MIN)),
            }
        });
        picked
            .into_iter()
            .filter(|(_, t)| cutoff.is_none_or(|c| t.is_some_and(|t| t < c)))
            .map(|(c, _)| c.clone())
            .collect()
    }
}

/// A failure of one delete, for the official `{"tinker_path", "error"}` entry.
pub fn failure_text(err: &Error) -> String {
    err.to_string()
}

/// Whether a failed delete failed for the user's reason (unknown checkpoint) rather than the
/// server's, for the exit code of a single-path delete.
pub fn is_user_failure(err: &Error) -> bool {
    err.category() == crate::error::Category::User
}
