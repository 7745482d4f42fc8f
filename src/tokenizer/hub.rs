//! Downloads one file from the Hugging Face hub: its own agent, its own redirects, modest retries.
//!
//! The hub answers `resolve/main/<file>` either directly or with a redirect to a
//! CDN, and reports the commit in `x-repo-commit` on that first answer. Redirects
//! are followed here (at most five, relative ones too) so that the commit can be
//! read and `Authorization` dropped as soon as the origin changes.

use std::time::Duration;

use ureq::Agent;

use super::settings::HubSettings;
use super::tokenizer_error;
use crate::deadline::Deadline;
use crate::error::{Category, Error, Result};

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;
/// Connecting longer than this counts as a failed attempt (the deadline may cut it shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One attempt (request, redirects and body) never takes longer, even without a deadline.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Larger answers are refused; real tokenizer files are tens of megabytes at most.
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// How failed downloads are retried; tests shorten the waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRetry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; it doubles for each later one.
    pub first_backoff: Duration,
}

impl Default for HubRetry {
    fn default() -> HubRetry {
        HubRetry {
            attempts: 3,
            first_backoff: Duration::from_millis(500),
        }
    }
}

/// A downloaded file and the commit the hub said it came from.
pub(crate) struct Downloaded {
    /// `x-repo-commit` of the first answer, when the hub sent one.
    pub commit: Option<String>,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// One attempt's failure: final (with the category it ends in), or worth another attempt.
enum Failure {
    /// Something the user must fix: a gated repo, a missing file.
    User(String),
    /// The hub misbehaves in a way retrying will not fix.
    Server(String),
    /// The run's deadline passed.
    Timeout,
    /// Worth another attempt: 5xx, 429, connection errors.
    Transient(String),
}

/// Downloads `file` of `repo` at revision `main`, retrying transient failures.
pub(crate) fn download(
    id: &str,
    repo: &str,
    file: &str,
    hub: &HubSettings,
    deadline: &Deadline,
    retry: &HubRetry,
) -> Result<Downloaded> {
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("tinkex/{}", crate::VERSION))
        .build()
        .into();
    let url = format!("{}/{repo}/resolve/main/{file}", hub.endpoint);
    let step = format!("downloading {file} of {repo} from {}", hub.endpoint);
    let attempts = retry.attempts.max(1);
    let mut backoff = retry.first_backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        match fetch(&agent, &url, hub, deadline, repo, file) {
            Ok(done) => return Ok(done),
            Err(Failure::Transient(reason)) => last = reason,
            Err(Failure::User(reason)) => return Err(tokenizer_error(id, Category::User, reason)),
            Err(Failure::Server(reason)) => {
                return Err(tokenizer_error(id, Category::Server, reason))
            }
            Err(Failure::Timeout) => return Err(timeout(id, &step, deadline)),
        }
        if attempt == attempts {
            break;
        }
        log::debug!("attempt {attempt} of {step} failed: {last}; retrying in {backoff:?}");
        if backoff >= deadline.remaining() {
            return Err(timeout(id, &step, deadline));
        }
        std::thread::sleep(backoff);
        backoff = backoff.saturating_mul(2);
    }
    Err(tokenizer_error(
        id,
        Category::Server,
        format!("{step} failed after {attempts} attempts: {last}"),
    ))
}

/// One attempt: the request, then at most [`MAX_REDIRECTS`] redirects.
fn fetch(
    agent: &Agent,
    start: &str,
    hub: &HubSettings,
    deadline: &Deadline,
    repo: &str,
    file: &str,
) -> Result<Downloaded, Failure> {
    let first_origin = origin(start);
    let mut url = start.to_string();
    let mut commit: Option<String> = None;
    for _ in 0..=MAX_REDIRECTS {
        if deadline.expired() {
            return Err(Failure::Timeout);
        }
        // Authorization only while the origin is the hub's: never to a CDN.
        let token = hub
            .token
            .as_deref()
            .filter(|_| origin(&url) == first_origin);
        log::debug!("GET {}", origin_for_log(&url, start));
        let mut response = get(agent, &url, token, deadline)?;
        if commit.is_none() {
            commit = header(&response, "x-repo-commit");
        }
        let status = response.status().as_u16();
        match status {
            200..=299 => {
                let bytes = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_FILE_BYTES)
                    .read_to_vec()
                    .map_err(|e| transport(e, deadline))?;
                return Ok(Downloaded { commit, bytes });
            }
            301 | 302 | 303 | 307 | 308 => {
                let location = header(&response, "location").ok_or_else(|| {
                    Failure::Transient(format!("HTTP {status} redirect without a Location"))
                })?;
                url = resolve(&url, &location);
            }
            _ => return Err(status_failure(status, &response, hub, repo, file)),
        }
    }
    Err(Failure::Server(format!(
        "the hub redirected more than {MAX_REDIRECTS} times"
    )))
}

/// Sends one GET, bounded by the deadline and by [`ATTEMPT_TIMEOUT`].
fn get(
    agent: &Agent,
    url: &str,
    token: Option<&str>,
    deadline: &Deadline,
) -> Result<ureq::http::Response<ureq::Body>, Failure> {
    let mut request = agent
        .get(url)
        .config()
        .timeout_global(Some(deadline.cap(ATTEMPT_TIMEOUT)))
        .timeout_connect(Some(deadline.cap(CONNECT_TIMEOUT)))
        .build();
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    request.call().map_err(|e| transport(e, deadline))
}

/// Maps a non-success, non-redirect status to a failure with a reason a user can act on.
fn status_failure(
    status: u16,
    response: &ureq::http::Response<ureq::Body>,
    hub: &HubSettings,
    repo: &str,
    file: &str,
) -> Failure {
    let code = header(response, "x-error-code").unwrap_or_default();
    let token_note = if hub.token.is_some() {
        "the token in HF_TOKEN was refused or lacks access"
    } else {
        "set HF_TOKEN to a token with access"
    };
    let reason = match status {
        401 | 403 if code == "RepoNotFound" => {
            format!("the repository {repo} was not found on the hub or is private (HTTP {status}); if it is private, {token_note}")
        }
        401 | 403 => format!(
            "access to {repo} was refused (HTTP {status}): it is gated or private; accept its terms on the hub and {token_note}"
        ),
        404 if code == "RepoNotFound" => {
            format!("the repository {repo} was not found on the hub (HTTP 404)")
        }
        404 => no_file_reason(repo, file),
        408 | 429 | 500..=599 => return Failure::Transient(format!("the hub answered HTTP {status}")),
        _ => format!("the hub answered HTTP {status} for {file} of {repo}"),
    };
    Failure::User(reason)
}

/// The 404 reason, naming the tiktoken case (Kimi) that the `tokenizers` crate cannot read.
fn no_file_reason(repo: &str, file: &str) -> String {
    let tiktoken = if repo.to_ascii_lowercase().contains("kimi") {
        "; Kimi repositories ship tiktoken.model, which tinkex cannot read"
    } else {
        "; repositories that ship only tiktoken.model (e.g. Kimi) cannot be read by tinkex"
    };
    format!("the repository {repo} has no {file} at revision main (HTTP 404){tiktoken}")
}

/// A transport error: the deadline when it has passed, otherwise worth a retry.
fn transport(err: ureq::Error, deadline: &Deadline) -> Failure {
    let timed_out = matches!(err, ureq::Error::Timeout(_));
    if deadline.expired() || (timed_out && deadline.remaining() < Duration::from_millis(100)) {
        return Failure::Timeout;
    }
    Failure::Transient(err.to_string())
}

fn timeout(id: &str, step: &str, deadline: &Deadline) -> Error {
    tokenizer_error(
        id,
        Category::Timeout,
        format!(
            "timed out after {:.0} s while {step}",
            deadline.total().as_secs_f64()
        ),
    )
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    let value = response.headers().get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Splits `scheme://authority/rest` into its three parts (`rest` keeps its leading `/`).
fn split(url: &str) -> (&str, &str, &str) {
    let (scheme, after) = url.split_once("://").unwrap_or(("", url));
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    (scheme, &after[..end], &after[end..])
}

/// `scheme://authority`, lowercased: Authorization is sent only while this stays the same.
fn origin(url: &str) -> String {
    let (scheme, authority, _) = split(url);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}").to_ascii_lowercase()
}

/// What is logged for a request: the full URL for the hub, only the origin for a CDN
/// (whose signed query string is a short-lived credential).
fn origin_for_log(url: &str, start: &str) -> String {
    if url == start {
        url.to_string()
    } else {
        origin(url)
    }
}

/// Resolves a `Location` against the URL that answered with it (RFC 3986, the common forms).
pub(crate) fn resolve(base: &str, location: &str) -> String {
    let is_absolute = location.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if is_absolute {
        return location.to_string();
    }
    let (scheme, authority, rest) = split(base);
    if let Some(net_path) = location.strip_prefix("//") {
        return format!("{scheme}://{net_path}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest.split(['?', '#']).next().unwrap_or("");
    if location.starts_with('?') {
        return format!("{scheme}://{authority}{path}{location}");
    }
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    format!("{scheme}://{authority}{dir}/{location}")
}

#[cfg(test)]
mod tests {
    use super::{origin, resolve};

    #[test]
    fn locations_resolve_against_the_answering_url() {
        let base = "https://huggingface.co/Org/Tiny/resolve/main/tokenizer.json?x=1";
        let cases = [
            (
                "https://cdn.example/blob?sig=1",
                "https://cdn.example/blob?sig=1",
            ),
            ("//cdn.example/blob", "https://cdn.example/blob"),
            (
                "/api/resolve-cache/x",
                "https://huggingface.co/api/resolve-cache/x",
            ),
            (
                "other.json",
                "https://huggingface.co/Org/Tiny/resolve/main/other.json",
            ),
            (
                "?y=2",
                "https://huggingface.co/Org/Tiny/resolve/main/tokenizer.json?y=2",
            ),
        ];
        for (location, expected) in cases {
            assert_eq!(resolve(base, location), expected, "Location: {location}");
        }
    }

    #[test]
    fn origin_ignores_path_case_and_user_info_but_not_port() {
        assert_eq!(origin("https://HF.co/a/b"), "https://hf.co");
        assert_eq!(origin("https://user@hf.co:443?x"), "https://hf.co:443");
        assert_ne!(
            origin("http://127.0.0.1:1/x"),
            origin("http://127.0.0.1:2/x")
        );
    }
}
