//! The state every client handle shares: config, transport and credential, plus
//! the authenticated send and the retry loop of setup calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::client::auth::{self, Auth};
use crate::client::config::{Config, SDK_VERSION};
use crate::client::retry::{self, Billing, VirtualClock};
use crate::client::status::{self, Last};
use crate::client::transport::{NetError, Progress, Reply, Request, Transport};
use crate::deadline::Deadline;
use crate::error::{Error, Result};

/// Why one attempt produced no answer to act on.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No complete answer: maybe worth retrying.
    Net(NetError),
    /// Something that ends the call (e.g. the token refresh failed).
    Fatal(Error),
}

/// Shared by the service client, its sampling clients, futures and the heartbeat.
pub(crate) struct Core {
    pub config: Config,
    pub transport: Transport,
    pub auth: Auth,
    /// Whether the user was told that the server cannot be reached (told once per run).
    told_unreachable: AtomicBool,
    /// `client/config`'s `sample_cancel_enabled` (absent: false).
    pub cancel_enabled: AtomicBool,
    /// Requests submitted and not yet answered, for `cancel_future` at an early end.
    pub pending: crate::client::cancel::Pending,
}

impl Core {
    /// Builds the transport; the key must already be validated.
    pub(crate) fn new(config: Config) -> Core {
        crate::redact::register_secret(&config.api_key);
        let transport = Transport::new(&config.base_url, config.http_pool);
        let auth = Auth::new(&config);
        Core {
            config,
            transport,
            auth,
            told_unreachable: AtomicBool::new(false),
            cancel_enabled: AtomicBool::new(false),
            pending: Default::default(),
        }
    }

    /// Says once, at the first failed connection, that the server cannot be reached and for
    /// how long tinkex keeps trying (a status line: the CLI shows it unless `-q`). The figure
    /// is what the step's deadline and `window_left` (the retry rule's own bound) really
    /// leave, rounded; under 1 s no figure is given.
    pub(crate) fn note_unreachable(
        &self,
        err: &NetError,
        deadline: &Deadline,
        window_left: Duration,
    ) {
        if self.told_unreachable.swap(true, Ordering::SeqCst) {
            return;
        }
        log::info!(
            target: crate::client::STATUS_TARGET,
            "{}",
            unreachable_note(&self.config.base_url, &err.cause(), deadline.cap(window_left))
        );
    }

    /// The final error when retries against an unreachable server ran out: URL and cause.
    pub(crate) fn unreachable(&self, step: &str, err: &NetError) -> Error {
        Error::Network(format!(
            "{step} failed after retrying: {}",
            self.cannot_reach(err)
        ))
    }

    /// `cannot reach URL (cause)`: the final error's words, and a timeout's last error.
    pub(crate) fn cannot_reach(&self, err: &NetError) -> String {
        format!("cannot reach {} ({})", self.config.base_url, err.cause())
    }

    /// The last failed attempt in a few words for a timeout: `HTTP 503`, or which URL could
    /// not be reached and why (so the final error keeps what the first notice said).
    pub(crate) fn last_cause(&self, last: &Last) -> String {
        match last {
            Last::Net(err) => self.cannot_reach(err),
            Last::Reply(_) => short(last),
        }
    }

    /// Failures no retry can fix, as the error that ends the call: a body over the cap, or
    /// TLS spoken to a server that answers in plain HTTP (told once, not retried).
    pub(crate) fn net_fatal(&self, step: &str, err: &NetError) -> Option<Error> {
        match err {
            NetError::TooLarge => Some(status::net_fatal(step, err, None)),
            NetError::PlainHttp => Some(plain_http(step, &self.config.base_url)),
            _ => None,
        }
    }

    /// Validates `config`, then the handshake every command starts with: `client/config`
    /// (with the raw key) and, when the server asks for it, the JWT exchange; both within
    /// one step deadline.
    pub(crate) fn connect(config: Config) -> Result<Core> {
        config.validate()?;
        let core = Core::new(config);
        let deadline = core.step_deadline();
        let body = serde_json::json!({ "sdk_version": SDK_VERSION }).to_string();
        let req = Request::post("/api/v1/client/config", body.into_bytes());
        let step = "fetching the client configuration";
        let flags = core.setup_json_by(step, &req, true, &deadline)?;
        let cancel = flags.get("sample_cancel_enabled").and_then(Value::as_bool) == Some(true);
        core.cancel_enabled.store(cancel, Ordering::SeqCst);
        core.auth.configure(&core, &flags, &deadline)?;
        Ok(core)
    }

    /// The run's deadline (a batch's: possibly unbounded).
    pub(crate) fn deadline(&self) -> &Deadline {
        &self.config.deadline
    }

    /// The deadline of a step starting now: the run's, or `step_timeout` from now if sooner.
    pub(crate) fn step_deadline(&self) -> Deadline {
        self.config.deadline.within(self.config.step_timeout)
    }

    /// [`Core::send_by`] within the run's deadline (read commands and the like).
    pub(crate) fn send(
        &self,
        req: &Request,
        timeout: Duration,
        progress: Option<&Progress>,
        raw_key: bool,
    ) -> std::result::Result<Reply, Failure> {
        self.send_by(req, timeout, progress, raw_key, self.deadline())
    }

    /// One attempt with the current credential; replays once after a 401 `invalid_token`.
    /// Getting the credential (a command run, a JWT exchange) is bounded by `deadline` too.
    pub(crate) fn send_by(
        &self,
        req: &Request,
        timeout: Duration,
        progress: Option<&Progress>,
        raw_key: bool,
        deadline: &Deadline,
    ) -> std::result::Result<Reply, Failure> {
        let credential = if raw_key {
            self.auth.raw(deadline).map_err(Failure::Fatal)?
        } else {
            self.auth
                .credential(self, deadline)
                .map_err(Failure::Fatal)?
        };
        let reply = self
            .transport
            .send(req, &credential, timeout, progress)
            .map_err(Failure::Net)?;
        let invalid_token = reply.status == 401 && reply.www_authenticate.contains("invalid_token");
        if !raw_key && invalid_token && self.auth.uses_jwt() {
            let fresh = self
                .auth
                .refresh(self, &credential, deadline)
                .map_err(Failure::Fatal)?;
            let left = deadline.cap(timeout);
            return self
                .transport
                .send(req, &fresh, left, progress)
                .map_err(Failure::Net);
        }
        Ok(reply)
    }

    /// A setup call (config, auth, sessions, samplers) with its retry rules, within a step
    /// deadline starting now; the 2xx answer.
    pub(crate) fn setup_call(&self, step: &str, req: &Request, raw_key: bool) -> Result<Reply> {
        self.call_accepting(step, req, raw_key, &[], &self.step_deadline())
    }

    /// A setup call with its retry rules, every attempt and wait within `deadline`; the 2xx
    /// answer. A server that cannot be reached is retried for at most
    /// [`retry::UNREACHABLE_WINDOW`], the figure the note states.
    pub(crate) fn setup_call_by(
        &self,
        step: &str,
        req: &Request,
        raw_key: bool,
        deadline: &Deadline,
    ) -> Result<Reply> {
        self.call_accepting(step, req, raw_key, &[], deadline)
    }

    /// [`Core::setup_call_by`], but an answer whose status is in `accept` is returned at once,
    /// neither retried nor an error (a 409 on publish means "already public").
    pub(crate) fn call_accepting(
        &self,
        step: &str,
        req: &Request,
        raw_key: bool,
        accept: &[u16],
        deadline: &Deadline,
    ) -> Result<Reply> {
        let policy = &self.config.retry;
        let mut clock = VirtualClock::start();
        let mut billing = Billing::default();
        let mut retries = 0u32;
        let max_retries = if self.config.timing.setup_retries {
            retry::SETUP_MAX_RETRIES
        } else {
            0
        };
        // What the last failed attempt was, kept for a timeout that cuts the retries short.
        let mut cause: Option<String> = None;
        loop {
            deadline
                .check(step)
                .map_err(|e| e.with_cause(cause.as_deref()))?;
            let timeout = deadline.cap(self.config.timing.request_timeout);
            let (last, retry_after) = match self.send_by(req, timeout, None, raw_key, deadline) {
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::Net(err)) => {
                    if let Some(fatal) = self.net_fatal(step, &err) {
                        return Err(fatal);
                    }
                    if max_retries > 0 {
                        let window = retry::UNREACHABLE_WINDOW.saturating_sub(clock.elapsed());
                        self.note_unreachable(&err, deadline, window);
                    }
                    (Last::Net(err), None)
                }
                Ok(reply)
                    if (200..300).contains(&reply.status) || accept.contains(&reply.status) =>
                {
                    return Ok(reply)
                }
                Ok(reply) if reply.status == 402 && max_retries > 0 => {
                    if !billing.allow_retry(clock.elapsed(), step) {
                        return Err(status::exhausted(step, &Last::Reply(reply), None));
                    }
                    policy.sleep(&mut clock, retry::BILLING_INTERVAL, deadline, step)?;
                    continue;
                }
                Ok(reply) if retryable_setup_status(reply.status) => {
                    let after = reply.retry_after;
                    (Last::Reply(reply), after)
                }
                Ok(reply) => return Err(self.fatal_setup_reply(step, &reply)),
            };
            billing.reset();
            cause = Some(self.last_cause(&last));
            deadline
                .check(step)
                .map_err(|e| e.with_cause(cause.as_deref()))?;
            let window = match last {
                Last::Net(_) => retry::UNREACHABLE_WINDOW,
                Last::Reply(_) => retry::RETRY_WINDOW,
            };
            if retries >= max_retries || clock.elapsed() >= window {
                return Err(self.retries_ended(step, &last, max_retries));
            }
            let wanted = retry::setup_delay(retries, retry_after);
            // Never back off past the window: the last attempt falls inside it.
            let delay = wanted.min(window.saturating_sub(clock.elapsed()));
            log::debug!("{step}: retrying in {delay:?} ({})", describe(&last));
            policy
                .sleep(&mut clock, delay, deadline, step)
                .map_err(|e| e.with_cause(cause.as_deref()))?;
            retries += 1;
        }
    }

    /// The error when a setup call may not retry (any more): the last failure as it was.
    fn retries_ended(&self, step: &str, last: &Last, max_retries: u32) -> Error {
        match (last, max_retries) {
            (Last::Net(err), 0) => {
                Error::Network(format!("{step} failed: {}", self.cannot_reach(err)))
            }
            (Last::Net(err), _) => self.unreachable(step, err),
            // Not retried here, but still the server's trouble (408/409/429/5xx): exit 4.
            (Last::Reply(reply), 0) => match status::reply_error(step, reply, None) {
                Error::Api {
                    status, message, ..
                } => Error::Api {
                    category: crate::error::Category::Server,
                    status,
                    message,
                },
                other => other,
            },
            (Last::Reply(_), _) => status::exhausted(step, last, None),
        }
    }

    /// [`fatal_reply`], plus a hint when a 404 comes from a base URL that already ends in
    /// the API's own path (`…/api/v1`), which tinkex appends itself.
    fn fatal_setup_reply(&self, step: &str, reply: &Reply) -> Error {
        let error = fatal_reply(step, reply, None);
        match (reply.status, api_path_suffix(&self.config.base_url)) {
            (404, Some(root)) => Error::Input {
                message: error.to_string(),
                hint: Some(format!(
                    "the base URL ends in the API path, which tinkex adds itself: drop it (--base-url {root})"
                )),
            },
            _ => error,
        }
    }

    /// [`Core::setup_json_by`] within a step deadline starting now.
    pub(crate) fn setup_json(&self, step: &str, req: &Request, raw_key: bool) -> Result<Value> {
        self.setup_json_by(step, req, raw_key, &self.step_deadline())
    }

    /// A setup call whose answer is a JSON object; `{"error": …}` answers fail.
    pub(crate) fn setup_json_by(
        &self,
        step: &str,
        req: &Request,
        raw_key: bool,
        deadline: &Deadline,
    ) -> Result<Value> {
        let reply = self.setup_call_by(step, req, raw_key, deadline)?;
        let value: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| status::bad_answer(step, &format!("not JSON ({e})"), None))?;
        if !value.is_object() {
            return Err(status::bad_answer(step, "not a JSON object", None));
        }
        if let Some(err) = status::error_field(step, &value, None) {
            return Err(err);
        }
        Ok(value)
    }
}

/// `cannot reach URL (cause); retrying for up to N s`, with N (rounded) only when at least
/// 1 s is really left, so "up to 0 s" is never said.
pub(crate) fn unreachable_note(base_url: &str, cause: &str, left: Duration) -> String {
    if left < Duration::from_secs(1) {
        format!("cannot reach {base_url} ({cause})")
    } else {
        let seconds = left.as_secs_f64().round();
        format!("cannot reach {base_url} ({cause}); retrying for up to {seconds} s")
    }
}

/// The base URL without a trailing `/api` or `/api/v1` (`http://h:8000/api/v1` → `http://h:8000`),
/// when it has one.
pub(crate) fn api_path_suffix(base_url: &str) -> Option<String> {
    let base = base_url.trim().trim_end_matches('/');
    ["/api/v1", "/api"]
        .iter()
        .find_map(|suffix| base.strip_suffix(suffix))
        .map(str::to_string)
}

/// The error for `https://` to a server that answers in plain HTTP: say so once, suggest
/// `http://`, and stop (TLS will never succeed there).
fn plain_http(step: &str, base_url: &str) -> Error {
    let base = base_url.trim();
    let plain = match base.strip_prefix("https://") {
        Some(rest) => format!("http://{rest}"),
        None => base.to_string(),
    };
    Error::Api {
        category: crate::error::Category::Server,
        status: None,
        message: format!(
            "{step} failed: {base} answers in plain HTTP, not HTTPS: use --base-url {plain} (or TINKER_BASE_URL)"
        ),
    }
}

fn retryable_setup_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The error for an answer that ends the call: auth for 401/403, else by status.
pub(crate) fn fatal_reply(step: &str, reply: &Reply, request_id: Option<&str>) -> Error {
    if matches!(reply.status, 401 | 403) {
        auth::refused(step, reply.status, &reply.body)
    } else {
        status::reply_error(step, reply, request_id)
    }
}

/// A failed attempt in a few words, for a timeout's `last error`: `connection refused`, `HTTP 503`.
pub(crate) fn short(last: &Last) -> String {
    match last {
        Last::Reply(reply) => format!("HTTP {}", reply.status),
        Last::Net(err) => err.cause(),
    }
}

/// A short description of a failed attempt, for debug logs.
pub(crate) fn describe(last: &Last) -> String {
    match last {
        Last::Reply(reply) => format!("HTTP {}", reply.status),
        Last::Net(err) => err.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unreachable_note_never_says_up_to_zero_seconds() {
        let note =
            |ms| unreachable_note("http://h", "connection refused", Duration::from_millis(ms));
        assert_eq!(note(999), "cannot reach http://h (connection refused)");
        assert_eq!(note(0), "cannot reach http://h (connection refused)");
        assert_eq!(
            note(1400),
            "cannot reach http://h (connection refused); retrying for up to 1 s"
        );
    }

    #[test]
    fn hides_secrets_and_jwts() {
        crate::redact::register_secret("tml-secret-for-redactor");
        let text = crate::redact::scrub(
            r#"key tml-secret-for-redactor and {"jwt":"eyJhbGc.eyJleHAi.sig-_x"} end"#,
        );
        assert_eq!(text, r#"key [REDACTED] and {"jwt":"[REDACTED]"} end"#);
    }
}
