//! A received call, the replies a handler can give, and strict JSON field checks.

use serde_json::{json, Map, Value};

/// One received HTTP request, read whole.
#[derive(Clone, Debug)]
pub struct Call {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, query string included.
    pub path: String,
    /// Headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Call {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A complete HTTP answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: value.to_string().into_bytes(),
        }
    }

    /// An error answer with a FastAPI-style `{"detail": …}` body.
    pub fn detail(status: u16, detail: impl Into<String>) -> Answer {
        Answer::json(status, &json!({ "detail": detail.into() }))
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

/// What the server does with a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Answer normally.
    Answer(Answer),
    /// Close the connection without answering.
    Drop,
    /// Hold the connection unanswered until the server stops.
    Hang,
    /// Send the head and half the body, then hold the connection.
    Stall(Answer),
}

impl Reply {
    /// The status the client will see, if it sees one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Reply::Answer(a) | Reply::Stall(a) => Some(a.status),
            Reply::Drop | Reply::Hang => None,
        }
    }
}

/// Handler results: `Err` is an early error answer, so `?` can stop at the first problem.
pub type Handled = Result<Answer, Answer>;

/// Parses the body as a JSON object, or answers 422.
pub fn body_object(call: &Call) -> Result<Map<String, Value>, Answer> {
    match serde_json::from_slice::<Value>(&call.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Answer::detail(422, "request body must be a JSON object")),
        Err(e) => Err(Answer::detail(
            422,
            format!("request body is not valid JSON: {e}"),
        )),
    }
}

/// Checks that `obj` has every `required` key, no key outside `required`/`optional`, and no
/// `null` values (the protocol omits unset fields instead of sending null).
pub fn check_fields(
    obj: &Map<String, Value>,
    what: &str,
    required: &[&str],
    optional: &[&str],
) -> Result<(), Answer> {
    for key in required {
        if !obj.contains_key(*key) {
            return Err(Answer::detail(
                422,
                format!("{what}: missing field `{key}`"),
            ));
        }
    }
    for (key, value) in obj {
        if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
            return Err(Answer::detail(
                422,
                format!("{what}: unknown field `{key}`"),
            ));
        }
        if value.is_null() {
            return Err(Answer::detail(
                422,
                format!("{what}: `{key}` is null; omit unset fields instead"),
            ));
        }
    }
    Ok(())
}

/// A required string field.
pub fn get_str<'a>(obj: &'a Map<String, Value>, what: &str, key: &str) -> Result<&'a str, Answer> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Answer::detail(422, format!("{what}: `{key}` must be a string")))
}

/// An optional integer field.
pub fn opt_i64(obj: &Map<String, Value>, what: &str, key: &str) -> Result<Option<i64>, Answer> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| Answer::detail(422, format!("{what}: `{key}` must be an integer"))),
    }
}

/// A required integer field.
pub fn get_i64(obj: &Map<String, Value>, what: &str, key: &str) -> Result<i64, Answer> {
    opt_i64(obj, what, key)?
        .ok_or_else(|| Answer::detail(422, format!("{what}: missing field `{key}`")))
}

/// A required number field.
pub fn get_f64(obj: &Map<String, Value>, what: &str, key: &str) -> Result<f64, Answer> {
    obj.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| Answer::detail(422, format!("{what}: `{key}` must be a number")))
}

/// A required boolean field.
pub fn get_bool(obj: &Map<String, Value>, what: &str, key: &str) -> Result<bool, Answer> {
    obj.get(key)
        .and_then(Value::as_bool)
        .ok_or_else(|| Answer::detail(422, format!("{what}: `{key}` must be true or false")))
}

/// Checks the `type` field's value.
pub fn check_type(obj: &Map<String, Value>, what: &str, expected: &str) -> Result<(), Answer> {
    let got = get_str(obj, what, "type")?;
    if got == expected {
        return Ok(());
    }
    Err(Answer::detail(
        422,
        format!("{what}: `type` must be \"{expected}\", got \"{got}\""),
    ))
}
