//! Chat messages: the `--messages` JSON format, its validation, and the shape templates see.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The roles a message may have.
pub const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// One chat message: a role, its content, and any other keys (`tool_calls`, `reasoning_content`, …)
/// passed to the template as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, a list of content parts, or null (e.g. an assistant turn with only tool calls).
    pub content: Value,
    /// Every other key of the message object, in file order.
    pub extra: Map<String, Value>,
}

impl Message {
    /// A message with text content and no other keys.
    pub fn text(role: &str, content: &str) -> Message {
        Message {
            role: role.to_string(),
            content: Value::String(content.to_string()),
            extra: Map::new(),
        }
    }

    /// The message as the template sees it, built the way transformers builds it: keys whose
    /// value is null are dropped, and reasoning given as `reasoning_content`, `thinking` or
    /// `reasoning` is offered under both `thinking` and `reasoning_content`.
    pub fn to_template_value(&self) -> Value {
        let mut fields = Map::new();
        fields.insert("role".into(), Value::String(self.role.clone()));
        fields.insert("content".into(), template_content(&self.content));
        for (k, v) in &self.extra {
            fields.insert(k.clone(), v.clone());
        }
        fields.retain(|_, v| !v.is_null());
        let reasoning = ["reasoning_content", "thinking", "reasoning"]
            .iter()
            .find_map(|k| fields.get(*k).cloned());
        let Some(reasoning) = reasoning else {
            return Value::Object(fields);
        };
        // Python: {"thinking": r, **message, "reasoning_content": r}
        let mut aliased = Map::new();
        aliased.insert("thinking".into(), reasoning.clone());
        for (k, v) in fields {
            aliased.insert(k, v);
        }
        aliased.insert("reasoning_content".into(), reasoning);
        Value::Object(aliased)
    }

    /// The content when it is plain text, or a list holding exactly one text part.
    pub fn text_content(&self) -> Option<&str> {
        match &self.content {
            Value::String(s) => Some(s),
            Value::Array(parts) if parts.len() == 1 => text_part(&parts[0]),
            _ => None,
        }
    }
}

/// The content as templates see it: image parts reduced to `{"type": "image"}`, so a data: URL
/// is neither copied into the template's context nor printable by a template.
fn template_content(content: &Value) -> Value {
    match content {
        Value::Array(parts) if parts.iter().any(super::images::is_image_part) => Value::Array(
            parts
                .iter()
                .map(|p| match super::images::is_image_part(p) {
                    true => serde_json::json!({"type": "image"}),
                    false => p.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn text_part(part: &Value) -> Option<&str> {
    if part.get("type")?.as_str()? == "text" {
        part.get("text")?.as_str()
    } else {
        None
    }
}

/// Parses a `--messages` file: a JSON array of `{"role": …, "content": …, …}` objects.
/// `origin` names the file in errors, which also give the index of the bad message.
/// More than [`MAX_BYTES`](super::limits::MAX_BYTES) is refused: it could only render to a
/// prompt past that limit. serde_json refuses nesting deeper than 128 levels.
pub fn parse_messages(bytes: &[u8], origin: &str) -> Result<Vec<Message>> {
    if bytes.len() > super::limits::MAX_BYTES {
        return Err(Error::input(format!(
            "{origin} is larger than 64 MiB, the limit for a chat prompt"
        )));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::input(format!("{origin} is not valid JSON: {e}")))?;
    messages_from_value(value, origin)
}

/// Messages from an already parsed JSON value (a batch line's `"messages"`), checked as
/// [`parse_messages`] checks a file; `origin` names the value in errors.
pub fn messages_from_value(value: Value, origin: &str) -> Result<Vec<Message>> {
    let Value::Array(items) = value else {
        return Err(messages_error(
            origin,
            format!(
                "{origin} must hold a JSON array of messages, not {}",
                kind_name(&value)
            ),
        ));
    };
    if items.is_empty() {
        return Err(messages_error(
            origin,
            format!("{origin} holds no messages"),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            parse_message(item)
                .map_err(|why| messages_error(origin, format!("{origin}: message {i} {why}")))
        })
        .collect()
}

fn parse_message(item: Value) -> std::result::Result<Message, String> {
    let Value::Object(mut fields) = item else {
        return Err(format!("must be an object, not {}", kind_name(&item)));
    };
    let role = match fields.shift_remove("role") {
        Some(Value::String(role)) => role,
        Some(other) => {
            return Err(format!(
                "has a role that is {}, not a string",
                kind_name(&other)
            ))
        }
        None => return Err("has no \"role\"".into()),
    };
    if !ROLES.contains(&role.as_str()) {
        return Err(format!(
            "has role {role:?}; expected one of {}",
            ROLES.join(", ")
        ));
    }
    let content = match fields.shift_remove("content") {
        Some(c @ (Value::String(_) | Value::Array(_) | Value::Null)) => c,
        Some(other) => {
            return Err(format!(
                "has content that is {}; expected a string or a list of parts",
                kind_name(&other)
            ))
        }
        None if role == "assistant" && fields.contains_key("tool_calls") => Value::Null,
        None => return Err("has no \"content\"".into()),
    };
    if let Value::Array(parts) = &content {
        for (j, part) in parts.iter().enumerate() {
            super::images::check_part(part).map_err(|why| format!("part {j} {why}"))?;
        }
    }
    Ok(Message {
        role,
        content,
        extra: fields,
    })
}

fn messages_error(_origin: &str, message: String) -> Error {
    Error::Input {
        message,
        hint: Some(
            "--messages takes a JSON array such as [{\"role\": \"user\", \"content\": \"Hi\"}]"
                .into(),
        ),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether an assistant turn's text holds a `<think>…</think>` block.
pub fn has_think_block(message: &Message) -> bool {
    message.role == "assistant"
        && message
            .text_content()
            .is_some_and(|t| t.contains("<think>") && t.contains("</think>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_keeps_extra_keys_in_order() {
        let msgs = parse_messages(
            br#"[{"role":"user","content":"hi","name":"bob","z":1},{"role":"assistant","tool_calls":[]}]"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(msgs[0].extra.keys().collect::<Vec<_>>(), ["name", "z"]);
        assert_eq!(msgs[1].content, Value::Null);
    }

    #[test]
    fn bad_messages_name_file_and_index() {
        let cases: [(&[u8], &str); 6] = [
            (b"{}", "m.json must hold a JSON array of messages, not an object"),
            (b"[]", "m.json holds no messages"),
            (br#"[{"role":"user","content":"a"}, 3]"#, "m.json: message 1 must be an object, not a number"),
            (br#"[{"role":"bot","content":"a"}]"#, "m.json: message 0 has role \"bot\"; expected one of system, user, assistant, tool"),
            (br#"[{"content":"a"}]"#, "m.json: message 0 has no \"role\""),
            (br#"[{"role":"user","content":5}]"#, "m.json: message 0 has content that is a number; expected a string or a list of parts"),
        ];
        for (input, want) in cases {
            let err = parse_messages(input, "m.json").unwrap_err();
            assert_eq!(err.to_string(), want);
            assert_eq!(err.exit_code(), 2);
        }
        let err = parse_messages(b"[", "m.json").unwrap_err().to_string();
        assert!(err.starts_with("m.json is not valid JSON: "), "{err}");
    }

    #[test]
    fn template_value_drops_nulls_and_aliases_reasoning() {
        let m = parse_messages(
            br#"[{"role":"assistant","content":"x","tool_calls":null,"reasoning_content":"r"}]"#,
            "m",
        )
        .unwrap();
        let v = m[0].to_template_value();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["thinking", "role", "content", "reasoning_content"]);
        assert_eq!(v["thinking"], "r");
    }
}
