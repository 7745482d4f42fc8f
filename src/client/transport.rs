//! Raw HTTP over one shared ureq agent: headers, timeouts, body caps, request logging.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::client::retry::{self, idempotency_key};
use crate::redact;

/// Result bodies are read whole up to this size; past it the answer is refused.
pub(crate) const MAX_BODY: usize = 64 * 1024 * 1024;

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// The method's name as sent on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One request to send (the credential is added per attempt).
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<Vec<u8>>,
    pub accept: &'static str,
    pub headers: Vec<(&'static str, String)>,
    /// Fields of the JSON answer that hold a credential (`auth/token`'s `jwt`): registered
    /// as secrets before anything about the answer is logged.
    pub secret_fields: &'static [&'static str],
}

impl Request {
    /// A POST of a compact JSON body to `path` (relative to the base, e.g. `/api/v1/asample`).
    pub(crate) fn post(path: impl Into<String>, body: Vec<u8>) -> Request {
        Request {
            method: Method::Post,
            path: path.into(),
            body: Some(body),
            accept: "application/json",
            headers: Vec::new(),
            secret_fields: &[],
        }
    }

    /// A request with `method` and an optional JSON body (PUT/DELETE of checkpoints).
    pub(crate) fn with_method(
        method: Method,
        path: impl Into<String>,
        body: Option<Vec<u8>>,
    ) -> Request {
        Request {
            method,
            body,
            ..Request::get(path)
        }
    }

    /// A GET of `path`.
    pub(crate) fn get(path: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            path: path.into(),
            body: None,
            accept: "application/json",
            headers: Vec::new(),
            secret_fields: &[],
        }
    }

    /// Marks fields of the JSON answer as credentials (see [`Request::secret_fields`]).
    pub(crate) fn secret_answer(mut self, fields: &'static [&'static str]) -> Request {
        self.secret_fields = fields;
        self
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }
}

/// A complete answer: status, the headers the rules look at, and the whole body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<Duration>,
    pub www_authenticate: String,
    /// The `Location` header (a redirect to a signed URL); empty when absent.
    pub location: String,
    pub body: Vec<u8>,
}

/// A request that got no complete answer.
#[derive(Debug, Clone)]
pub(crate) enum NetError {
    /// The per-request timeout passed (headers or body).
    Timeout(String),
    /// The body stopped making progress.
    Stalled,
    /// Connect, TLS, reset, DNS: the connection failed.
    Failed(String),
    /// The body is larger than [`MAX_BODY`].
    TooLarge,
    /// A TLS handshake got a plain-HTTP answer: an `https://` base URL for an `http://` server.
    PlainHttp,
}

impl NetError {
    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            NetError::Timeout(what) => format!("the request timed out ({what})"),
            NetError::Stalled => "the answer's body stopped arriving".to_string(),
            NetError::Failed(what) => format!("connection failed: {what}"),
            NetError::TooLarge => format!("the answer is larger than {} MB", MAX_BODY >> 20),
            NetError::PlainHttp => "the server answers in plain HTTP, not HTTPS".to_string(),
        }
    }

    /// The cause in a few lowercase words, for `cannot reach URL (cause)`: `connection refused`.
    pub(crate) fn cause(&self) -> String {
        match self {
            NetError::Failed(what) => short_cause(what),
            NetError::Timeout(_) => "the request timed out".to_string(),
            other => other.describe(),
        }
    }
}

/// `Connection refused (os error 111)` → `connection refused`.
fn short_cause(text: &str) -> String {
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "connection failed".to_string(),
    }
}

/// Body progress of a request in flight, watched by another thread.
#[derive(Debug)]
pub(crate) struct Progress {
    started: Instant,
    last_ms: AtomicU64,
}

const NO_HEADERS: u64 = u64::MAX;

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            started: Instant::now(),
            last_ms: AtomicU64::new(NO_HEADERS),
        }
    }

    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long the body has made no progress; `None` before the headers arrived.
    pub(crate) fn idle(&self) -> Option<Duration> {
        match self.last_ms.load(Ordering::Relaxed) {
            NO_HEADERS => None,
            ms => Some(
                self.started
                    .elapsed()
                    .saturating_sub(Duration::from_millis(ms)),
            ),
        }
    }
}

/// The shared agent and base URL.
pub(crate) struct Transport {
    agent: ureq::Agent,
    base: String,
    user_agent: String,
}

impl Transport {
    /// One agent for the whole client: keep-alive pool, no redirects, proxy from the env.
    pub(crate) fn new(base_url: &str, http_pool: usize) -> Transport {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .proxy(ureq::Proxy::try_from_env())
            .max_idle_connections(http_pool.max(1))
            .max_idle_connections_per_host(http_pool.max(1))
            .user_agent(format!("tinkex/{}", crate::VERSION))
            .build();
        let base = base_url.trim().trim_end_matches('/').to_string();
        if plain_http_off_loopback(&base) {
            log::warn!("the base URL {base} uses plain http://: the API key travels unencrypted");
        }
        Transport {
            agent: ureq::Agent::new_with_config(config),
            base,
            user_agent: format!("tinkex/{}", crate::VERSION),
        }
    }

    /// The full URL of `path`, never with a doubled `/`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Sends `req` once with `credential`, reading the whole answer within `timeout`.
    pub(crate) fn send(
        &self,
        req: &Request,
        credential: &str,
        timeout: Duration,
        progress: Option<&Progress>,
    ) -> Result<Reply, NetError> {
        let started = Instant::now();
        let url = self.url(&req.path);
        let method = req.method.name();
        if let Some(body) = &req.body {
            log::trace!(
                "{method} {} body: {}",
                req.path,
                redact::scrub(&super::types::elide_image_data(body))
            );
        }
        let outcome = self.exchange(req, &url, credential, timeout, progress);
        let ms = started.elapsed().as_millis();
        match &outcome {
            Ok(reply) => {
                register_secret_fields(reply, req.secret_fields);
                log::info!("{method} {} -> {} ({ms} ms)", req.path, reply.status);
                let preview = if req.secret_fields.is_empty() {
                    body_preview(reply)
                } else {
                    format!("<{} bytes holding a credential>", reply.body.len())
                };
                log::trace!(
                    "{method} {} answer ({}): {preview}",
                    req.path,
                    reply.content_type
                );
            }
            Err(err) => log::info!("{method} {} -> {} ({ms} ms)", req.path, err.describe()),
        }
        outcome
    }

    fn exchange(
        &self,
        req: &Request,
        url: &str,
        credential: &str,
        timeout: Duration,
        progress: Option<&Progress>,
    ) -> Result<Reply, NetError> {
        let mut headers: Vec<(&str, String)> = vec![
            ("X-API-Key", credential.to_string()),
            ("Accept", req.accept.to_string()),
            ("User-Agent", self.user_agent.clone()),
        ];
        if matches!(req.method, Method::Post | Method::Put) {
            headers.push(("Content-Type", "application/json".to_string()));
        }
        if req.method != Method::Get {
            headers.push(("X-Idempotency-Key", idempotency_key()));
        }
        headers.extend(req.headers.iter().map(|(k, v)| (*k, v.clone())));
        log::debug!(
            "request headers: {}",
            headers
                .iter()
                .filter(|(k, _)| *k != "X-API-Key")
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        let response = match req.method {
            Method::Get => {
                let mut b = self.agent.get(url);
                for (k, v) in &headers {
                    b = b.header(*k, v.as_str());
                }
                b.config().timeout_global(timeout).build().call()
            }
            Method::Post => {
                let mut b = self.agent.post(url);
                for (k, v) in &headers {
                    b = b.header(*k, v.as_str());
                }
                let body: &[u8] = req.body.as_deref().unwrap_or(b"{}");
                b.config().timeout_global(timeout).build().send(body)
            }
            Method::Put => {
                let mut b = self.agent.put(url);
                for (k, v) in &headers {
                    b = b.header(*k, v.as_str());
                }
                let body: &[u8] = req.body.as_deref().unwrap_or(b"{}");
                b.config().timeout_global(timeout).build().send(body)
            }
            Method::Delete => {
                let mut b = self.agent.delete(url);
                for (k, v) in &headers {
                    b = b.header(*k, v.as_str());
                }
                b.config().timeout_global(timeout).build().call()
            }
        };
        let response = response.map_err(net_error)?;
        read_reply(response, progress)
    }
}

fn read_reply(
    response: ureq::http::Response<ureq::Body>,
    progress: Option<&Progress>,
) -> Result<Reply, NetError> {
    if let Some(p) = progress {
        p.touch();
    }
    let (parts, body) = response.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let retry_after = retry::retry_after(&header("retry-after"));
    let mut reader = body.into_reader();
    let data = crate::bounded::read_all(&mut reader, MAX_BODY, || {
        if let Some(p) = progress {
            p.touch();
        }
    })
    .map_err(|e| match crate::bounded::exceeded(&e) {
        Some(_) => NetError::TooLarge,
        None => io_error(e),
    })?;
    Ok(Reply {
        status: parts.status.as_u16(),
        content_type: header("content-type"),
        retry_after,
        www_authenticate: header("www-authenticate"),
        location: header("location"),
        body: data,
    })
}

fn net_error(err: ureq::Error) -> NetError {
    match err {
        ureq::Error::Timeout(which) => NetError::Timeout(format!("{which}")),
        ureq::Error::Io(io) => io_error(io),
        // ureq may quote what the server sent (a bad header, a status line): show it as server text.
        other => failed(redact::server_text(&other.to_string())),
    }
}

/// A failed connection, or [`NetError::PlainHttp`] when TLS met a plain-HTTP answer (rustls
/// calls the first bytes of `HTTP/1.1 400 …` a "corrupt message of type InvalidContentType").
fn failed(text: String) -> NetError {
    if text.contains("InvalidContentType") {
        NetError::PlainHttp
    } else {
        NetError::Failed(text)
    }
}

fn io_error(err: std::io::Error) -> NetError {
    use std::io::ErrorKind;
    // ureq reports its own timeouts during body reads as io errors wrapping ureq::Error::Timeout.
    let text = redact::server_text(&err.to_string());
    match err.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => NetError::Timeout(text),
        _ if text.contains("timeout") => NetError::Timeout(text),
        _ => failed(text),
    }
}

/// Registers the credentials an answer carries in `fields`, whatever they look like (a
/// session token need not be a JWT, which the scrubber would spot by its shape).
fn register_secret_fields(reply: &Reply, fields: &[&str]) {
    if fields.is_empty() {
        return;
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&reply.body) {
        for field in fields {
            if let Some(secret) = map.get(*field).and_then(serde_json::Value::as_str) {
                redact::register_secret(secret);
            }
        }
    }
}

fn body_preview(reply: &Reply) -> String {
    if reply.content_type.contains("protobuf") {
        return format!("<{} bytes of protobuf>", reply.body.len());
    }
    redact::server_text(&String::from_utf8_lossy(&reply.body))
}

/// Whether `base` is `http://` to a host other than this machine.
fn plain_http_off_loopback(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_short_and_lowercase() {
        let refused = NetError::Failed("Connection refused (os error 111)".into());
        assert_eq!(refused.cause(), "connection refused");
        assert_eq!(
            NetError::Failed("dns: no such host".into()).cause(),
            "dns: no such host"
        );
        assert_eq!(
            NetError::Timeout("x".into()).cause(),
            "the request timed out"
        );
    }

    #[test]
    fn plain_http_warning_only_off_loopback() {
        assert!(plain_http_off_loopback("http://example.com/x"));
        assert!(plain_http_off_loopback("http://10.0.0.1:80"));
        assert!(!plain_http_off_loopback("http://127.0.0.1:1234"));
        assert!(!plain_http_off_loopback("http://localhost"));
        assert!(!plain_http_off_loopback("http://[::1]:8080/base"));
        assert!(!plain_http_off_loopback("https://example.com"));
    }

    #[test]
    fn credentials_in_an_answer_are_registered_before_logging() {
        let reply = Reply {
            status: 200,
            content_type: "application/json".into(),
            retry_after: None,
            www_authenticate: String::new(),
            location: String::new(),
            body: br#"{"jwt":"opaque-session-token-42"}"#.to_vec(),
        };
        assert_eq!(
            redact::scrub("opaque-session-token-42"),
            "opaque-session-token-42"
        );
        register_secret_fields(&reply, &["jwt"]);
        assert_eq!(redact::scrub("t=opaque-session-token-42"), "t=[REDACTED]");
        let req = Request::post("/api/v1/auth/token", b"{}".to_vec()).secret_answer(&["jwt"]);
        assert_eq!(req.secret_fields, &["jwt"]);
    }

    #[test]
    fn urls_never_double_the_slash() {
        let t = Transport::new("http://127.0.0.1:9/base/", 1);
        assert_eq!(t.url("/api/v1/x"), "http://127.0.0.1:9/base/api/v1/x");
    }
}

#[cfg(test)]
mod image_trace_tests {
    #[test]
    fn traced_bodies_show_the_length_of_image_data_never_the_data() {
        let body = br#"{"prompt":{"chunks":[{"tokens":[1],"type":"encoded_text"},{"data":"iVBORw0KGgo=","format":"png","expected_tokens":64,"type":"image"}]}}"#;
        assert_eq!(
            super::super::types::elide_image_data(body),
            r#"{"prompt":{"chunks":[{"tokens":[1],"type":"encoded_text"},{"data":"<12 characters of base64>","format":"png","expected_tokens":64,"type":"image"}]}}"#
        );
        assert_eq!(
            super::super::types::elide_image_data(b"{\"a\":1}"),
            "{\"a\":1}"
        );
    }
}
