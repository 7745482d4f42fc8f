//! Renders a Hugging Face chat template the way transformers' `apply_chat_template` does,
//! with minijinja in a sandbox: no file access, a fuel budget, and Jinja2's spelling of values.

use std::sync::{Arc, Mutex};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, ErrorKind, State, Value};
use serde_json::Map;

use super::limits::{self, Bounded, PromptWriter};
use super::messages::Message;
use super::overflow;
use super::pyfmt;
use super::template::ChatTemplate;
use crate::error::{Error, Result};

/// The work one render may do (instructions, plus one unit per 64 bytes created). It also
/// bounds the memory a render can take (4M × 64 B = 256 MiB of data created in all) and how
/// deep a template can nest its own values. Measured with the fixture templates: 1,000
/// messages of 4 KB (a 4 MB prompt) need at most 0.8M (nemotron3-nano), 10,000 short messages
/// at most 1.7M (kimi-k3).
pub const FUEL: u64 = 4_000_000;

/// The render thread's stack: minijinja's own recursion (its 500-level limit, and dropping or
/// comparing the nested values a template builds) must not depend on the caller's stack, which
/// is small on batch workers. Only the pages touched count against memory.
const RENDER_STACK: usize = 256 << 20;

/// One render at a time in the whole process, so `--parallel` workers cannot multiply the
/// memory a hostile template takes; rendering is quick next to sampling.
pub(super) static RENDER_LOCK: Mutex<()> = Mutex::new(());

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
    for value in messages
        .iter()
        .flat_map(|m| std::iter::once(&m.content).chain(m.extra.values()))
        .chain(args.values())
    {
        if json_depth(value) > limits::MAX_DEPTH {
            return Err(Error::input(format!(
                "a message or template argument is nested deeper than {} levels",
                limits::MAX_DEPTH
            )));
        }
    }
    let _one_at_a_time = RENDER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let render = || {
        // A value that contains itself can still run minijinja off this thread's stack.
        let _guard = overflow::arm(&template.origin);
        render_locked(template, special_tokens, messages, args, opts)
    };
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("chat-template".into())
            .stack_size(RENDER_STACK)
            .spawn_scoped(scope, render);
        match thread {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had (e.g. a low limit on threads): render on this one.
            Err(_) => render(),
        }
    })
}

fn render_locked(
    template: &ChatTemplate,
    special_tokens: &Map<String, serde_json::Value>,
    messages: &[Message],
    args: &Map<String, serde_json::Value>,
    opts: &RenderOptions,
) -> Result<String> {
    let raised = Arc::new(Mutex::new(None::<String>));
    let env = environment(raised.clone(), opts.now, opts.fuel.unwrap_or(FUEL));
    let source = plain_generation_blocks(&template.source);
    let compiled = env
        .template_from_named_str("chat template", &source)
        .map_err(|e| template_error(template, &e, None, false))?;
    let ctx = context(special_tokens, messages, args, opts);
    let mut prompt = PromptWriter::default();
    // Only the output is needed: drop the captured state while `env` still lives.
    let rendered = compiled.render_captured_to(ctx, &mut prompt).map(drop);
    match rendered {
        Ok(()) => String::from_utf8(prompt.bytes)
            .map_err(|_| Error::input("the chat template wrote invalid UTF-8")),
        Err(e) => {
            let raised = raised.lock().ok().and_then(|m| m.clone());
            Err(template_error(template, &e, raised, prompt.overflowed))
        }
    }
}

/// How deeply `value` nests (a scalar is 1), found without recursing.
fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(value, 1)];
    while let Some((v, depth)) = todo.pop() {
        deepest = deepest.max(depth);
        match v {
            serde_json::Value::Array(items) => todo.extend(items.iter().map(|i| (i, depth + 1))),
            serde_json::Value::Object(map) => todo.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    deepest
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
    add_bounded_output(&mut env);
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

/// Printing and the string-making filters, each kept to the size limit of a value
/// (minijinja's own would build any size).
fn add_bounded_output(env: &mut Environment<'static>) {
    env.set_formatter(|out, state, value| {
        if let Some(text) = value.as_str() {
            if text.len() > limits::MAX_BYTES {
                return Err(limits::too_large("a printed value"));
            }
            return out.write_str(text).map_err(minijinja::Error::from);
        }
        let mut text = Bounded::for_state(state, "a printed value");
        pyfmt::write_py_str(&mut text, value)?;
        out.write_str(text.as_str()).map_err(minijinja::Error::from)
    });
    env.add_filter("tojson", pyfmt::tojson_filter);
    env.add_filter("string", string_filter);
    env.add_filter("pprint", pprint_filter);
    // minijinja pays for these before allocating; they also keep to the size of a value.
    for (name, filter) in [
        ("join", Value::from_function(minijinja::filters::join)),
        ("format", Value::from_function(minijinja::filters::format)),
    ] {
        env.add_filter(name, move |state: &mut State, args: Rest<ValueOrKwargs>| {
            let args: Vec<Value> = args.iter().cloned().map(Value::from).collect();
            let value = filter.call(state, &args)?;
            match value.as_str() {
                Some(text) if text.len() > limits::MAX_BYTES => {
                    Err(limits::too_large(&format!("the {name} filter's result")))
                }
                _ => Ok(value),
            }
        });
    }
}

/// Jinja2's `string`: Python's `str()`, bounded like printing (minijinja's own recurses freely).
fn string_filter(state: &State, value: &Value) -> std::result::Result<Value, minijinja::Error> {
    if value.as_str().is_some() {
        return Ok(value.clone());
    }
    let mut text = Bounded::for_state(state, "the string filter's result");
    pyfmt::write_py_str(&mut text, value)?;
    Ok(Value::from(text.into_string()))
}

/// Jinja2's `pprint` (Python's `pformat`), as `repr()`: minijinja's own is slow on deep values.
fn pprint_filter(state: &State, value: &Value) -> std::result::Result<String, minijinja::Error> {
    let mut text = Bounded::for_state(state, "the pprint filter's result");
    pyfmt::write_py_repr(&mut text, value, 0)?;
    Ok(text.into_string())
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

fn template_error(
    template: &ChatTemplate,
    e: &minijinja::Error,
    raised: Option<String>,
    overflowed: bool,
) -> Error {
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
        _ if overflowed => "renders a prompt larger than 64 MiB".to_string(),
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
