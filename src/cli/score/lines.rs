//! `tinkex score --input` lines: `{"id"?, "context" | "messages", "continuation" | "choices"}`,
//! validated strictly so a typo is caught before any request.

use serde::Deserialize;
use serde_json::Value;

use super::args::MAX_CHOICES;
use crate::chat::{self, Message};

/// What a line scores after.
#[derive(Debug, Clone, PartialEq)]
pub enum Context {
    /// `"context"`: text, encoded as `run` encodes a prompt (a user message with `--chat`).
    Text(String),
    /// `"messages"`: a conversation rendered in the model's chat format.
    Messages(Vec<Message>),
}

/// One line of a scoring batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreItem {
    /// 1-based line number in the input.
    pub line: usize,
    /// The line's `id`, else its line number.
    pub id: Value,
    /// The context.
    pub context: Context,
    /// The continuation, or the choices.
    pub continuations: Vec<String>,
    /// Whether they were `"choices"`.
    pub choices: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    id: Option<Value>,
    context: Option<String>,
    messages: Option<Value>,
    continuation: Option<String>,
    choices: Option<Vec<String>>,
}

/// Parses one non-blank input line; the error names the key at fault.
pub fn parse_line(text: &str, line: usize) -> Result<ScoreItem, String> {
    let raw: RawLine = serde_json::from_str(text).map_err(|e| describe(text, &e))?;
    let id = match raw.id {
        None => Value::from(line),
        Some(Value::String(s)) if s.is_empty() => return Err("id: must not be empty".into()),
        Some(id @ (Value::String(_) | Value::Number(_))) => id,
        Some(_) => return Err("id: must be a string or a number".into()),
    };
    let context = match (raw.context, raw.messages) {
        (Some(text), None) if text.is_empty() => return Err("context: is empty".into()),
        (Some(text), None) => Context::Text(text),
        (None, Some(messages)) => chat::messages_from_value(messages, "messages")
            .map(Context::Messages)
            .map_err(|e| e.to_string())?,
        (None, None) => return Err("no \"context\" or \"messages\"".into()),
        (Some(_), Some(_)) => return Err("give \"context\" or \"messages\", not both".into()),
    };
    let (continuations, choices) = match (raw.continuation, raw.choices) {
        (Some(text), None) if text.is_empty() => return Err("continuation: is empty".into()),
        (Some(text), None) => (vec![text], false),
        (None, Some(list)) => (check_choices(list)?, true),
        (None, None) => return Err("no \"continuation\" or \"choices\"".into()),
        (Some(_), Some(_)) => return Err("give \"continuation\" or \"choices\", not both".into()),
    };
    Ok(ScoreItem {
        line,
        id,
        context,
        continuations,
        choices,
    })
}

fn check_choices(list: Vec<String>) -> Result<Vec<String>, String> {
    if list.is_empty() {
        return Err("choices: is empty".into());
    }
    if list.len() > MAX_CHOICES {
        return Err(format!(
            "choices: at most {MAX_CHOICES}, got {}",
            list.len()
        ));
    }
    if let Some(i) = list.iter().position(String::is_empty) {
        return Err(format!("choices: choice {} is empty", i + 1));
    }
    Ok(list)
}

/// A serde error said the way batch input errors are said.
fn describe(text: &str, error: &serde_json::Error) -> String {
    match serde_json::from_str::<Value>(text) {
        Err(_) => format!("not valid JSON ({error})"),
        Ok(Value::Object(_)) => {
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            message
                .replace("unknown field", "unknown key")
                .replace("invalid type", "wrong type")
        }
        Ok(_) => "not a JSON object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_choices_lines() {
        let item = parse_line(r#"{"context": "2+2=", "continuation": " 4"}"#, 3).unwrap();
        assert_eq!(item.id, Value::from(3));
        assert_eq!(item.context, Context::Text("2+2=".into()));
        assert_eq!(
            (item.continuations, item.choices),
            (vec![" 4".to_string()], false)
        );
        let item = parse_line(r#"{"id": "q1", "context": "x", "choices": ["a", "b"]}"#, 1).unwrap();
        assert_eq!(item.id, Value::from("q1"));
        assert!(item.choices);
        let chat = r#"{"messages": [{"role": "user", "content": "hi"}], "continuation": "hello"}"#;
        assert!(
            matches!(parse_line(chat, 1).unwrap().context, Context::Messages(m) if m.len() == 1)
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            (r#"{"continuation": "a"}"#, "no \"context\" or \"messages\""),
            (r#"{"context": "a"}"#, "no \"continuation\" or \"choices\""),
            (r#"{"context": "", "continuation": "a"}"#, "context: is empty"),
            (r#"{"context": "a", "continuation": ""}"#, "continuation: is empty"),
            (r#"{"context": "a", "choices": []}"#, "choices: is empty"),
            (r#"{"context": "a", "choices": ["x", ""]}"#, "choices: choice 2 is empty"),
            (r#"{"context": "a", "continuation": "b", "choices": ["c"]}"#, "give \"continuation\" or \"choices\", not both"),
            (r#"{"context": "a", "continuation": "b", "prompt": "c"}"#, "unknown key `prompt`, expected one of `id`, `context`, `messages`, `continuation`, `choices`"),
            (r#"{"id": [], "context": "a", "continuation": "b"}"#, "id: must be a string or a number"),
            ("[1]", "not a JSON object"),
        ];
        for (line, message) in cases {
            assert_eq!(parse_line(line, 1).unwrap_err(), message, "{line}");
        }
        let many: Vec<String> = (0..=MAX_CHOICES).map(|i| i.to_string()).collect();
        let line = serde_json::json!({"context": "a", "choices": many}).to_string();
        assert!(parse_line(&line, 1).unwrap_err().contains("at most 1024"));
    }
}
