//! Turning final answers into errors that quote the server and name the request.

use serde_json::Value;

use crate::client::transport::{NetError, Reply};
use crate::error::{Category, Error};
use crate::redact;

/// The server's own explanation (`detail`, `error` or `message`, else the body), ready to
/// show: scrubbed, escaped and capped by [`redact::server_text`].
pub(crate) fn server_text(body: &[u8]) -> Option<String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        for key in ["detail", "error", "message"] {
            match map.get(key) {
                Some(Value::String(s)) if !s.is_empty() => return Some(redact::server_text(s)),
                Some(Value::Null) | None => {}
                Some(other) => return Some(redact::server_text(&other.to_string())),
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty()).then(|| redact::server_text(text))
}

/// Appends the request id, which came from the server and so is shown like its text.
fn with_request_id(mut message: String, request_id: Option<&str>) -> String {
    if let Some(rid) = request_id {
        message.push_str(&format!(" (request id {})", redact::server_text(rid)));
    }
    message
}

/// The category of an HTTP status that ends a request.
pub(crate) fn status_category(status: u16) -> Category {
    match status {
        401 | 403 => Category::Auth,
        400..=499 => Category::User,
        _ => Category::Server,
    }
}

/// The error for a final HTTP answer while `step`.
pub(crate) fn reply_error(step: &str, reply: &Reply, request_id: Option<&str>) -> Error {
    let mut message = format!("{step} failed: the server answered HTTP {}", reply.status);
    if let Some(text) = server_text(&reply.body) {
        message.push_str(&format!(": \"{text}\""));
    }
    Error::Api {
        category: status_category(reply.status),
        status: Some(reply.status),
        message: with_request_id(message, request_id),
    }
}

/// The error when retries ran out; `last` is the last thing that went wrong.
pub(crate) fn exhausted(step: &str, last: &Last, request_id: Option<&str>) -> Error {
    let what = match last {
        Last::Reply(reply) => {
            let mut m = format!("HTTP {}", reply.status);
            if let Some(text) = server_text(&reply.body) {
                m.push_str(&format!(": \"{text}\""));
            }
            m
        }
        Last::Net(err) => err.describe(),
    };
    let message = format!("{step} failed after retrying: {what}");
    match last {
        Last::Reply(reply) => Error::Api {
            category: Category::Server,
            status: Some(reply.status),
            message: with_request_id(message, request_id),
        },
        Last::Net(_) => Error::Network(with_request_id(message, request_id)),
    }
}

/// A network failure that is not retried (an oversized body).
pub(crate) fn net_fatal(step: &str, err: &NetError, request_id: Option<&str>) -> Error {
    Error::Api {
        category: Category::Server,
        status: None,
        message: with_request_id(format!("{step} failed: {}", err.describe()), request_id),
    }
}

/// The error for a `{"error": …, "category": …}` answer.
pub(crate) fn error_field(step: &str, value: &Value, request_id: Option<&str>) -> Option<Error> {
    let text = match value.get("error")? {
        Value::Null => return None,
        Value::String(s) => redact::server_text(s),
        other => redact::server_text(&other.to_string()),
    };
    let category = match value.get("category").and_then(Value::as_str) {
        Some("user") => Category::User,
        _ => Category::Server,
    };
    Some(Error::Api {
        category,
        status: None,
        message: with_request_id(format!("{step} failed: \"{text}\""), request_id),
    })
}

/// A 2xx answer we cannot understand; `what` may quote the answer (serde names the value it
/// choked on), so it is shown as server text.
pub(crate) fn bad_answer(step: &str, what: &str, request_id: Option<&str>) -> Error {
    Error::Protocol(with_request_id(
        format!(
            "{step} failed: the server's answer is not valid: {}",
            redact::server_text(what)
        ),
        request_id,
    ))
}

/// What the last failed attempt looked like, for the final error.
#[derive(Debug, Clone)]
pub(crate) enum Last {
    Reply(Reply),
    Net(NetError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "application/json".into(),
            retry_after: None,
            www_authenticate: String::new(),
            location: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn quotes_detail_and_names_the_request() {
        let err = reply_error(
            "sampling",
            &reply(422, r#"{"detail":"bad prompt"}"#),
            Some("r1"),
        );
        assert_eq!(
            err.to_string(),
            "sampling failed: the server answered HTTP 422: \"bad prompt\" (request id r1)"
        );
        assert_eq!(err.exit_code(), 2);
        assert_eq!(reply_error("x", &reply(403, "{}"), None).exit_code(), 3);
        assert_eq!(reply_error("x", &reply(502, "oops"), None).exit_code(), 4);
    }

    #[test]
    fn server_text_is_scrubbed_before_it_is_cut() {
        let key = "tml-status-test-key-0123456789";
        crate::redact::register_secret(key);
        // A plain-text body once was cut at 300 characters before the scrubber ran.
        let body = format!("{}{key}", "x".repeat(283));
        let err = reply_error("s", &reply(500, &body), None).to_string();
        assert!(!err.contains("tml-stat"), "{err}");
        assert!(err.contains("[REDACTED]"), "{err}");
        let body = format!(r#"{{"detail":"{}{key}"}}"#, "x".repeat(995));
        let err = reply_error("s", &reply(500, &body), None).to_string();
        assert!(!err.contains("tml-stat") && err.ends_with("…\""), "{err}");
        let err = bad_answer(
            "s",
            &format!("invalid type: string \"\u{1b}[2J{key}\""),
            None,
        );
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
        assert!(!err.to_string().contains("tml-stat"), "{err}");
    }

    #[test]
    fn error_field_uses_the_category() {
        let v: Value = serde_json::from_str(r#"{"error":"too long","category":"user"}"#).unwrap();
        let err = error_field("sampling", &v, None).unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("\"too long\""));
        let v: Value = serde_json::from_str(r#"{"error":"boom","category":"unknown"}"#).unwrap();
        assert_eq!(error_field("s", &v, None).unwrap().exit_code(), 4);
        let v: Value = serde_json::from_str(r#"{"session_id":"s"}"#).unwrap();
        assert!(error_field("s", &v, None).is_none());
    }
}
