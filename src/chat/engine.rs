//! Renders a Hugging Face chat template the way transformers' `apply_chat_template` does,
//! with minijinja in a sandbox: no file access, a fuel budget, and Jinja2's spelling of values.

use std::sync::{Arc, Mutex};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::{Environment, ErrorKind, State, Value};
use serde_json::Map;

use super::messages::Message;
use super::pyfmt;
use super::template::ChatTemplate;
use crate::error::{Error, Result};

/// The work one render may do (instructions, plus about one unit per 64 bytes created): a
/// thousand-message conversation with the largest templates measured needs well under a tenth.
pub const FUEL: u64 = 50_000_000;

/// How a template render is set up beyond the messages and template arguments.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Append the header that starts the assistant's turn (`add_generation_prompt`).
    pub add_generation_prompt: bool,
    /// The local time `strftime_now` sees; `None` means now.
    pub now: Option<jiff::civil::DateTime>,
    /// The work budget; `None` means [`FUEL`].
    pub fuel: Option<u64>,
}

/// Renders `template` over `messages` with context built as transformers builds it:
/// `messages`, `tools`, `documents`, `add_generation_prompt`, the special tokens, then `args`.
pub fn render_template(
    template: &ChatTemplate,
    special_tokens: &Map<String, serde_json::Value>,
    messages: &[Message],
    args: &Map<String, serde_json::Value>,
    opts: &RenderOptions,
) -> Result<String> {
    if args.contains_key("messages") {
        return Err(Error::input(
            "'messages' cannot be a template argument; pass --messages FILE instead",
        ));
    }
    let raised = Arc::new(Mutex::new(None::<String>));
    let env = environment(raised.clone(), opts.now, opts.fuel.unwrap_or(FUEL));
    let source = plain_generation_blocks(&template.source);
    let compiled = env
        .template_from_named_str("chat template", &source)
        .map_err(|e| template_error(template, &e, None))?;
    let ctx = context(special_tokens, messages, args, opts);
    compiled.render(ctx).map_err(|e| {
        let raised = raised.lock().ok().and_then(|m| m.clone());
        template_error(template, &e, raised)
    })
}

fn context(
    special_tokens: &Map<String, serde_json::Value>,
    messages: &[Message],
    args: &Map<String, serde_json::Value>,
    opts: &RenderOptions,
) -> Value {
    let mut ctx = Map::new();
    let msgs = messages.iter().map(Message::to_template_value).collect();
    ctx.insert("messages".into(), serde_json::Value::Array(msgs));
    ctx.insert("tools".into(), serde_json::Value::Null);
    ctx.insert("documents".into(), serde_json::Value::Null);
    ctx.insert(
        "add_generation_prompt".into(),
        serde_json::Value::Bool(opts.add_generation_prompt),
    );
    for (k, v) in special_tokens.iter().chain(args) {
        ctx.insert(k.clone(), v.clone());
    }
    pyfmt::json_to_value(&serde_json::Value::Object(ctx))
}

fn environment(
    raised: Arc<Mutex<Option<String>>>,
    now: Option<jiff::civil::DateTime>,
    fuel: u64,
) -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.set_fuel(Some(fuel));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_formatter(|out, _state, value| {
        let mut text = String::new();
        pyfmt::write_py_str(&mut text, value);
        out.write_str(&text).map_err(minijinja::Error::from)
    });
    env.add_filter("tojson", pyfmt::tojson_filter);
    env.add_test("iterable", is_iterable);
    env.add_test("sequence", is_sequence);
    env.add_function(
        "raise_exception",
        move |msg: String| -> std::result::Result<Value, minijinja::Error> {
            if let Ok(mut slot) = raised.lock() {
                *slot = Some(msg.clone());
            }
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        },
    );
    env.add_function("strftime_now", move |state: &State, fmt: String| {
        strftime_now(state, &fmt, now)
    });
    env
}

/// Jinja2's `iterable`: anything `iter()` accepts — strings, lists, dicts, undefined; not none.
fn is_iterable(v: &Value) -> bool {
    match v.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::Invalid => false,
        ValueKind::Undefined | ValueKind::String | ValueKind::Seq | ValueKind::Map => true,
        _ => v.try_iter().is_ok(),
    }
}

/// Jinja2's `sequence`: anything with a length and items — strings, lists and dicts included.
fn is_sequence(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::Undefined
            | ValueKind::String
            | ValueKind::Seq
            | ValueKind::Map
            | ValueKind::Bytes
    )
}

fn strftime_now(
    state: &State,
    fmt: &str,
    now: Option<jiff::civil::DateTime>,
) -> std::result::Result<String, minijinja::Error> {
    let now = now.unwrap_or_else(|| jiff::ZonedDateTime::now().datetime());
    let text = jiff::fmt::strtime::format(fmt, now).map_err(|e| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("strftime_now({fmt:?}): {e}"),
        )
    })?;
    state.consume_fuel(text.len() as u64 / 64)?;
    Ok(text)
}

/// Turns HF's `{% generation %}…{% endgeneration %}` (a transformers extension marking
/// assistant text) into a plain always-true block, keeping the whitespace-control markers.
pub fn plain_generation_blocks(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return out;
        };
        let inner = &tag[2..end];
        let (open, body, close) = split_markers(inner);
        let replacement = match body.trim() {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        match replacement {
            Some(word) => out.push_str(&format!("{{%{open} {word} {close}%}}")),
            None => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Splits `-`/`+` whitespace markers off a tag's inside: `"- generation -"` → ("-", "generation", "-").
fn split_markers(inner: &str) -> (&str, &str, &str) {
    let open = if inner.starts_with(['-', '+']) {
        &inner[..1]
    } else {
        ""
    };
    let inner = &inner[open.len()..];
    let close = if inner.ends_with(['-', '+']) {
        &inner[inner.len() - 1..]
    } else {
        ""
    };
    (open, &inner[..inner.len() - close.len()], close)
}

fn template_error(template: &ChatTemplate, e: &minijinja::Error, raised: Option<String>) -> Error {
    let origin = &template.origin;
    if let Some(msg) = raised {
        return Error::Input {
            message: format!("chat template {origin} refused the conversation: {msg}"),
            hint: Some(
                "the template's own rule; change the messages or pass --chat-template FILE".into(),
            ),
        };
    }
    let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
    let what = match e.kind() {
        ErrorKind::OutOfFuel => "used more than its work budget".to_string(),
        ErrorKind::SyntaxError => format!("has a syntax error{line}: {}", e.detail().unwrap_or("")),
        _ => format!("failed{line}: {}", detail(e)),
    };
    Error::Input {
        message: format!("chat template {origin} {what}"),
        hint: Some(
            "pass --chat-template FILE with a working template, or drop --chat for a raw prompt"
                .into(),
        ),
    }
}

fn detail(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_tags_become_plain_blocks() {
        assert_eq!(
            plain_generation_blocks("a{%- generation -%}b{% endgeneration %}{% if x %}"),
            "a{%- if true -%}b{% endif %}{% if x %}"
        );
        assert_eq!(plain_generation_blocks("{% generation"), "{% generation");
    }
}
