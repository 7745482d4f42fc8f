//! Batch input: one JSON object per line, validated strictly so a typo is caught before any request.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::chat::{self, Message};
use crate::cli::flags::values::{MaxTokens, Positive, Temperature, TopK, TopP};
use crate::cli::prompt::Prompt;
use crate::cli::prompt_images;
use crate::client::{SamplingParams, StopCondition};

/// What a line asks to sample from.
#[derive(Debug, Clone, PartialEq)]
pub enum LineInput {
    /// `"prompt"` (text) or `"tokens"` (ids).
    Prompt(Prompt),
    /// `"messages"`: a conversation to render in the model's chat format.
    Messages(Vec<Message>),
}

/// One prompt of a batch, ready to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// 1-based line number in the input.
    pub line: usize,
    /// The line's `id`, else its line number.
    pub id: Value,
    /// Text, token ids or messages.
    pub input: LineInput,
    /// How many samples.
    pub num_samples: u32,
    /// Sampling parameters: the flags' values with the line's overrides applied.
    pub params: SamplingParams,
    /// Whether the line or the flags set the stops (else chat mode sends its defaults).
    pub stop_set: bool,
    /// Alternatives per sampled token (`"topk_logprobs"`, else `--topk-logprobs`; 0 = none).
    pub topk_logprobs: u32,
}

/// A stop override: one string, several strings, or token ids.
#[derive(Deserialize)]
#[serde(untagged)]
enum StopValue {
    One(String),
    Strings(Vec<String>),
    Tokens(Vec<u32>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    id: Option<Value>,
    prompt: Option<String>,
    tokens: Option<Vec<u32>>,
    messages: Option<Value>,
    images: Option<Vec<String>>,
    max_tokens: Option<u64>,
    temperature: Option<f64>,
    top_k: Option<i64>,
    top_p: Option<f64>,
    num_samples: Option<u64>,
    seed: Option<i64>,
    stop: Option<StopValue>,
    topk_logprobs: Option<u32>,
}

/// Defaults every line starts from: the single-run flags.
#[derive(Debug, Clone)]
pub struct LineDefaults {
    /// `--num-samples`.
    pub num_samples: u32,
    /// The flags' sampling parameters.
    pub params: SamplingParams,
    /// `--chat`/`--system`: `"prompt"` lines are user messages, and `"tokens"` lines are refused.
    pub chat: bool,
    /// `--topk-logprobs` (0 = off).
    pub topk_logprobs: u32,
}

/// The canonical text of an id, for duplicate detection and resume.
pub fn id_key(id: &Value) -> String {
    match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Parses one non-blank input line; the error names the field at fault.
pub fn parse_line(text: &str, line: usize, defaults: &LineDefaults) -> Result<BatchItem, String> {
    let raw: RawLine = serde_json::from_str(text).map_err(|e| describe_json_error(text, &e))?;
    let id = match raw.id {
        None => Value::from(line),
        Some(Value::String(s)) if s.is_empty() => return Err("id: must not be empty".into()),
        Some(id @ (Value::String(_) | Value::Number(_))) => id,
        Some(_) => return Err("id: must be a string or a number".into()),
    };
    let input = with_images(
        line_input(raw.prompt, raw.tokens, raw.messages)?,
        raw.images,
    )?;
    if defaults.chat && matches!(input, LineInput::Prompt(Prompt::Tokens(_))) {
        return Err(
            "chat mode (--chat/--system) needs \"prompt\" or \"messages\", not \"tokens\"".into(),
        );
    }
    let mut params = defaults.params.clone();
    if let Some(value) = raw.max_tokens {
        params.max_tokens = Some(MaxTokens::new(value).map_err(field("max_tokens"))?.0);
    }
    if let Some(value) = raw.temperature {
        params.temperature = Temperature::new(value).map_err(field("temperature"))?.0;
    }
    if let Some(value) = raw.top_k {
        params.top_k = TopK::new(value).map_err(field("top_k"))?.0;
    }
    if let Some(value) = raw.top_p {
        params.top_p = TopP::new(value).map_err(field("top_p"))?.0;
    }
    if let Some(value) = raw.seed {
        params.seed = Some(value);
    }
    let stop_set = raw.stop.is_some() || defaults.params.stop.is_some();
    if let Some(stop) = raw.stop {
        params.stop = match stop {
            StopValue::One(s) if s.is_empty() => return Err("stop: must not be empty".into()),
            StopValue::One(s) => Some(StopCondition::Strings(vec![s])),
            StopValue::Strings(list) if list.iter().any(String::is_empty) => {
                return Err("stop: must not hold an empty string".into())
            }
            StopValue::Strings(list) if list.is_empty() => None,
            StopValue::Strings(list) => Some(StopCondition::Strings(list)),
            StopValue::Tokens(ids) => Some(StopCondition::Tokens(ids)),
        };
    }
    let num_samples = match raw.num_samples {
        Some(value) => Positive::new(value).map_err(field("num_samples"))?.0,
        None => defaults.num_samples,
    };
    Ok(BatchItem {
        line,
        id,
        input,
        num_samples,
        params,
        stop_set,
        topk_logprobs: raw.topk_logprobs.unwrap_or(defaults.topk_logprobs),
    })
}

/// Exactly one of `"prompt"`, `"tokens"` and `"messages"`, checked.
fn line_input(
    prompt: Option<String>,
    tokens: Option<Vec<u32>>,
    messages: Option<Value>,
) -> Result<LineInput, String> {
    match (prompt, tokens, messages) {
        (Some(text), None, None) if text.is_empty() => Err("prompt: is empty".into()),
        (Some(text), None, None) => Ok(LineInput::Prompt(Prompt::Text(text))),
        (None, Some(tokens), None) if tokens.is_empty() => Err("tokens: is empty".into()),
        (None, Some(tokens), None) => Ok(LineInput::Prompt(Prompt::Tokens(tokens))),
        (None, None, Some(messages)) => chat::messages_from_value(messages, "messages")
            .map(LineInput::Messages)
            .map_err(|e| e.to_string()),
        (None, None, None) => Err("no \"prompt\", \"tokens\" or \"messages\"".into()),
        _ => Err("give one of \"prompt\", \"tokens\" or \"messages\", not several".into()),
    }
}

/// `"images"`: files (relative to the input's folder) put before the prompt's text in one
/// user message, as `--image` does.
fn with_images(input: LineInput, images: Option<Vec<String>>) -> Result<LineInput, String> {
    let Some(images) = images else {
        return Ok(input);
    };
    if images.is_empty() || images.iter().any(String::is_empty) {
        return Err("images: must list image files, none empty".into());
    }
    if images.len() > prompt_images::MAX_IMAGES {
        return Err(format!(
            "images: at most {} per line",
            prompt_images::MAX_IMAGES
        ));
    }
    let paths: Vec<PathBuf> = images.iter().map(PathBuf::from).collect();
    match input {
        LineInput::Prompt(Prompt::Text(text)) => {
            Ok(LineInput::Messages(vec![prompt_images::user_message(
                &paths,
                Some(&text),
            )]))
        }
        _ => Err("images: go with a \"prompt\"; in \"messages\" give image parts".into()),
    }
}

/// The canonical id of a line read back from the input (`None`: it no longer parses).
pub fn line_id_key(text: &str, line: usize) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<Value>,
    }
    let parsed: IdOnly = serde_json::from_str(text).ok()?;
    Some(match parsed.id {
        Some(id) => id_key(&id),
        None => line.to_string(),
    })
}

/// Prefixes a range error with the field it concerns.
fn field(name: &'static str) -> impl Fn(String) -> String {
    move |message| format!("{name}: {message}")
}

/// serde's messages mention Rust types; say what the user wrote wrong instead.
fn describe_json_error(text: &str, error: &serde_json::Error) -> String {
    match serde_json::from_str::<Value>(text) {
        Err(_) => format!("not valid JSON ({error})"),
        Ok(Value::Object(_)) => {
            let message = error.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
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

    fn defaults() -> LineDefaults {
        LineDefaults {
            num_samples: 1,
            params: SamplingParams {
                max_tokens: Some(128),
                ..SamplingParams::default()
            },
            chat: false,
            topk_logprobs: 0,
        }
    }

    fn parse(text: &str) -> Result<BatchItem, String> {
        parse_line(text, 7, &defaults())
    }

    #[test]
    fn a_line_without_id_gets_its_line_number() {
        let item = parse(r#"{"prompt": "hi"}"#).unwrap();
        assert_eq!(item.id, Value::from(7));
        assert_eq!(item.input, LineInput::Prompt(Prompt::Text("hi".into())));
        assert!(!item.stop_set);
        assert_eq!(item.params.max_tokens, Some(128));
    }

    #[test]
    fn overrides_apply_over_the_flag_defaults() {
        let item = parse(r#"{"id": "a", "tokens": [1, 2], "max_tokens": 5, "temperature": 0, "top_k": 3, "top_p": 0.5, "num_samples": 2, "seed": 9, "stop": "\n"}"#).unwrap();
        assert_eq!(item.id, Value::from("a"));
        assert_eq!(item.input, LineInput::Prompt(Prompt::Tokens(vec![1, 2])));
        assert!(item.stop_set);
        assert_eq!(item.num_samples, 2);
        let expected = SamplingParams {
            max_tokens: Some(5),
            seed: Some(9),
            stop: Some(StopCondition::Strings(vec!["\n".into()])),
            temperature: 0.0,
            top_k: 3,
            top_p: 0.5,
        };
        assert_eq!(item.params, expected);
        assert_eq!(
            parse(r#"{"prompt": "x", "stop": [5, 6]}"#)
                .unwrap()
                .params
                .stop,
            Some(StopCondition::Tokens(vec![5, 6]))
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert!(parse("{oops").unwrap_err().starts_with("not valid JSON"));
        assert_eq!(parse("[1, 2]").unwrap_err(), "not a JSON object");
        assert_eq!(
            parse(r#"{"id": "x"}"#).unwrap_err(),
            "no \"prompt\", \"tokens\" or \"messages\""
        );
        assert_eq!(
            parse(r#"{"prompt": "a", "tokens": [1]}"#).unwrap_err(),
            "give one of \"prompt\", \"tokens\" or \"messages\", not several"
        );
        assert_eq!(
            parse(r#"{"prompt": "a", "temperature": -1}"#).unwrap_err(),
            "temperature: must be a finite number ≥ 0"
        );
        assert_eq!(
            parse(r#"{"prompt": "a", "top_k": 0}"#).unwrap_err(),
            "top_k: must be -1 (off) or at least 1"
        );
        assert_eq!(
            parse(r#"{"prompt": "a", "max_tokens": 0}"#).unwrap_err(),
            "max_tokens: must be at least 1"
        );
        assert_eq!(
            parse(r#"{"prompt": "a", "id": [1]}"#).unwrap_err(),
            "id: must be a string or a number"
        );
        assert!(parse(r#"{"prompt": "a", "max_token": 5}"#)
            .unwrap_err()
            .starts_with("unknown key `max_token`"));
        assert!(parse(r#"{"prompt": 5}"#)
            .unwrap_err()
            .starts_with("wrong type"));
    }

    #[test]
    fn messages_lines_are_checked_and_name_the_bad_message() {
        let item = parse(r#"{"id": "c", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]}"#).unwrap();
        assert_eq!(
            item.input,
            LineInput::Messages(vec![
                Message::text("system", "s"),
                Message::text("user", "hi")
            ])
        );
        assert_eq!(
            parse(r#"{"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}"#).unwrap_err(),
            "messages: message 1 has role \"bot\"; expected one of system, user, assistant, tool"
        );
        assert_eq!(
            parse(r#"{"messages": []}"#).unwrap_err(),
            "messages holds no messages"
        );
        assert_eq!(
            parse(r#"{"messages": "hi"}"#).unwrap_err(),
            "messages must hold a JSON array of messages, not a string"
        );
        assert_eq!(
            parse(r#"{"prompt": "a", "messages": [{"role": "user", "content": "b"}]}"#)
                .unwrap_err(),
            "give one of \"prompt\", \"tokens\" or \"messages\", not several"
        );
    }

    #[test]
    fn chat_mode_refuses_token_lines_and_flag_stops_count_as_set() {
        let chat = LineDefaults {
            chat: true,
            params: SamplingParams {
                stop: Some(StopCondition::Tokens(vec![7])),
                ..SamplingParams::default()
            },
            ..defaults()
        };
        assert_eq!(
            parse_line(r#"{"tokens": [1]}"#, 1, &chat).unwrap_err(),
            "chat mode (--chat/--system) needs \"prompt\" or \"messages\", not \"tokens\""
        );
        assert!(parse_line(r#"{"prompt": "a"}"#, 1, &chat).unwrap().stop_set);
    }

    #[test]
    fn ids_read_back_from_a_line() {
        assert_eq!(
            line_id_key(r#"{"id": "x", "prompt": "p"}"#, 3).as_deref(),
            Some("x")
        );
        assert_eq!(line_id_key(r#"{"prompt": "p"}"#, 3).as_deref(), Some("3"));
        assert_eq!(line_id_key("torn", 3), None);
    }

    #[test]
    fn id_keys_are_canonical() {
        assert_eq!(id_key(&Value::from("a")), "a");
        assert_eq!(id_key(&Value::from(12)), "12");
    }
}
