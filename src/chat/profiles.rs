//! The tinker-cookbook's built-in prompt formats (`role_colon`, `llama3`,
//! `gpt_oss_no_sysprompt`), rendered as the cookbook's `build_generation_prompt` renders them:
//! as pieces that are tokenized one by one, so the token ids match the cookbook's exactly.

use serde_json::Value;

use super::limits::Bounded;
use super::messages::Message;
use super::pyfmt;
use crate::error::{Error, Result};

/// One of the cookbook formats tinkex renders itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `System: …\n\nUser: …\n\nAssistant:` after the tokenizer's BOS (base models).
    RoleColon,
    /// Llama 3 headers without HF's date block, content not trimmed.
    Llama3,
    /// gpt-oss's Harmony format without the system block.
    GptOssNoSysprompt,
}

/// Renders `messages` plus the assistant header as pieces to encode separately.
/// `bos` is the tokenizer's `bos_token` (only `role_colon` reads it).
pub fn render_profile(
    profile: Profile,
    messages: &[Message],
    bos: Option<&str>,
) -> Result<Vec<String>> {
    let mut pieces = Vec::new();
    let bos = match profile {
        Profile::RoleColon => bos,
        Profile::Llama3 => Some("<|begin_of_text|>"),
        Profile::GptOssNoSysprompt => None,
    };
    pieces.extend(bos.map(str::to_string));
    for (i, message) in messages.iter().enumerate() {
        let is_last = i + 1 == messages.len();
        let (header, output) = match profile {
            Profile::RoleColon => role_colon(message, i)?,
            Profile::Llama3 => llama3(message, i)?,
            Profile::GptOssNoSysprompt => gpt_oss(message, i, is_last)?,
        };
        pieces.extend([header, output]);
    }
    pieces.push(match profile {
        Profile::RoleColon => "Assistant:".to_string(),
        Profile::Llama3 => "<|start_header_id|>assistant<|end_header_id|>\n\n".to_string(),
        Profile::GptOssNoSysprompt => "<|start|>assistant".to_string(),
    });
    // The sampler rejects empty chunks, so the cookbook drops them.
    pieces.retain(|p| !p.is_empty());
    Ok(pieces)
}

fn role_colon(message: &Message, index: usize) -> Result<(String, String)> {
    let text = text_of(message, index, "role_colon")?;
    Ok((
        format!("{}:", capitalize(&message.role)),
        format!(" {text}\n\n"),
    ))
}

fn llama3(message: &Message, index: usize) -> Result<(String, String)> {
    let text = text_of(message, index, "llama3")?;
    Ok((
        format!("<|start_header_id|>{}<|end_header_id|>\n\n", message.role),
        format!("{text}<|eot_id|>"),
    ))
}

fn gpt_oss(message: &Message, index: usize, is_last: bool) -> Result<(String, String)> {
    match message.role.as_str() {
        "tool" => {
            let name = message
                .extra
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = if name.is_empty() {
                log::warn!("message {index} (tool) has no \"name\"; gpt-oss renders it as functions.unknown");
                "functions.unknown".to_string()
            } else if name.starts_with("functions.") {
                name.to_string()
            } else {
                format!("functions.{name}")
            };
            let text = text_of(message, index, "gpt_oss_no_sysprompt")?;
            Ok((
                format!("<|start|>{name} to=assistant"),
                format!("<|channel|>commentary<|message|>{text}<|end|>"),
            ))
        }
        "assistant" => Ok((
            "<|start|>assistant".into(),
            gpt_oss_assistant(message, index, is_last)?,
        )),
        "system" => {
            let text = text_of(message, index, "gpt_oss_no_sysprompt")?;
            Ok((
                "<|start|>developer".into(),
                format!("<|message|># Instructions\n\n{text}\n\n<|end|>"),
            ))
        }
        role => {
            let text = text_of(message, index, "gpt_oss_no_sysprompt")?;
            Ok((
                format!("<|start|>{role}"),
                format!("<|message|>{text}<|end|>"),
            ))
        }
    }
}

fn gpt_oss_assistant(message: &Message, index: usize, is_last: bool) -> Result<String> {
    let (text, thinking) = text_and_thinking(message, index)?;
    let mut out = String::new();
    if !thinking.is_empty() {
        out.push_str(&format!(
            "<|channel|>analysis<|message|>{thinking}<|end|><|start|>assistant"
        ));
    }
    let calls = tool_calls(message, index)?;
    if calls.is_empty() {
        out.push_str(&format!("<|channel|>final<|message|>{text}"));
        out.push_str(if is_last { "<|return|>" } else { "<|end|>" });
        return Ok(out);
    }
    if !text.is_empty() {
        out.push_str(&format!(
            "<|channel|>commentary<|message|>{text}<|end|><|start|>assistant"
        ));
    }
    let rendered: Vec<String> = calls
        .iter()
        .map(|(name, args)| {
            format!(" to=functions.{name}<|channel|>commentary <|constrain|>json<|message|>{args}<|call|>")
        })
        .collect();
    out.push_str(&rendered.join("<|start|>assistant"));
    Ok(out)
}

/// The text and thinking parts of an assistant message (a string is all text).
fn text_and_thinking(message: &Message, index: usize) -> Result<(String, String)> {
    let parts = match &message.content {
        Value::String(s) => return Ok((s.clone(), String::new())),
        Value::Null => return Ok((String::new(), String::new())),
        Value::Array(parts) => parts,
        _ => {
            return Err(profile_error(
                index,
                "gpt_oss_no_sysprompt",
                "content must be text or parts",
            ))
        }
    };
    let (mut text, mut thinking) = (String::new(), String::new());
    for part in parts {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(part.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => {
                thinking.push_str(part.get("thinking").and_then(Value::as_str).unwrap_or(""))
            }
            _ => {
                return Err(profile_error(
                    index,
                    "gpt_oss_no_sysprompt",
                    "only text and thinking parts are supported",
                ))
            }
        }
    }
    Ok((text, thinking))
}

/// `(name, arguments)` of each tool call; object arguments are written as Python's `json.dumps`.
fn tool_calls(message: &Message, index: usize) -> Result<Vec<(String, String)>> {
    let Some(Value::Array(calls)) = message.extra.get("tool_calls") else {
        return Ok(Vec::new());
    };
    calls
        .iter()
        .map(|call| {
            let function = call.get("function").unwrap_or(call);
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    profile_error(
                        index,
                        "gpt_oss_no_sysprompt",
                        "has a tool call without a function name",
                    )
                })?;
            let args = match function.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    let mut s = Bounded::new("a tool call's arguments");
                    let opts = pyfmt::JsonOptions::default();
                    pyfmt::write_json(&mut s, &pyfmt::json_to_value(other), &opts, 0).map_err(
                        |e| profile_error(index, "gpt_oss_no_sysprompt", &e.to_string()),
                    )?;
                    s.into_string()
                }
                None => "{}".into(),
            };
            Ok((name.to_string(), args))
        })
        .collect()
}

fn text_of<'a>(message: &'a Message, index: usize, profile: &str) -> Result<&'a str> {
    message
        .text_content()
        .ok_or_else(|| profile_error(index, profile, "content must be text"))
}

fn profile_error(index: usize, profile: &str, why: &str) -> Error {
    Error::Input {
        message: format!("message {index} cannot be rendered in the {profile} format: {why}"),
        hint: Some("pass --renderer hf to use the model's own template".into()),
    }
}

/// Python's `str.capitalize`: first character upper case, the rest lower case.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}
