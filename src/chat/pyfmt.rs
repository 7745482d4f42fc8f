//! Python's spelling of template values: `json.dumps` for `tojson`, and `str()` for `{{ … }}`.
//!
//! Chat templates were written against Jinja2, where `{{ true }}` prints `True`, a dict prints
//! `{'a': 1}` and transformers' `tojson` is `json.dumps(ensure_ascii=False)` with `", "`/`": "`
//! separators. minijinja spells all of these differently, so rendering byte-identical prompts
//! needs these replacements.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, ErrorKind, State, Value};

use super::limits::{check_depth, Bounded};

/// The options of Python's `json.dumps` that transformers' `tojson` filter exposes.
#[derive(Debug, Clone, Default)]
pub struct JsonOptions {
    /// Escape every non-ASCII character as `\uXXXX`.
    pub ensure_ascii: bool,
    /// Pretty-print with this indent string (Python's `indent=`); `None` means one line.
    pub indent: Option<String>,
    /// Item and key separators; defaults depend on `indent` as in Python.
    pub separators: Option<(String, String)>,
    /// Sort object keys.
    pub sort_keys: bool,
}

/// The `tojson` filter: `json.dumps(value, ensure_ascii=False, indent=…, separators=…, sort_keys=…)`.
pub fn tojson_filter(
    state: &State,
    value: &Value,
    positional: Rest<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let mut opts = JsonOptions::default();
    // Positional order follows transformers' signature: (x, ensure_ascii, indent, separators, sort_keys).
    let names = ["ensure_ascii", "indent", "separators", "sort_keys"];
    if positional.len() > names.len() {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            "tojson takes at most 4 arguments",
        ));
    }
    let mut given: Vec<(&str, Value)> = names
        .iter()
        .copied()
        .zip(positional.iter().cloned())
        .collect();
    for name in names {
        if kwargs.has(name) {
            given.push((name, kwargs.get::<Value>(name)?));
        }
    }
    kwargs.assert_all_used()?;
    for (name, v) in given {
        match name {
            "ensure_ascii" => opts.ensure_ascii = v.is_true(),
            "indent" => opts.indent = indent_string(&v)?,
            "separators" => opts.separators = separators(&v)?,
            _ => opts.sort_keys = v.is_true(),
        }
    }
    let mut out = Bounded::for_state(state, "tojson's result");
    write_json(&mut out, value, &opts, 0)?;
    Ok(out.into_string())
}

fn indent_string(v: &Value) -> Result<Option<String>, Error> {
    if v.is_none() || v.is_undefined() {
        return Ok(None);
    }
    if let Some(s) = v.as_str() {
        return Ok(Some(s.to_string()));
    }
    match v.as_i64() {
        Some(n) => Ok(Some(" ".repeat(n.clamp(0, 64) as usize))),
        None => Err(Error::new(
            ErrorKind::InvalidOperation,
            "tojson: indent must be an integer or a string",
        )),
    }
}

fn separators(v: &Value) -> Result<Option<(String, String)>, Error> {
    if v.is_none() || v.is_undefined() {
        return Ok(None);
    }
    let items: Vec<Value> = v.try_iter()?.collect();
    match items.as_slice() {
        [a, b] => match (a.as_str(), b.as_str()) {
            (Some(a), Some(b)) => Ok(Some((a.to_string(), b.to_string()))),
            _ => Err(bad_separators()),
        },
        _ => Err(bad_separators()),
    }
}

fn bad_separators() -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        "tojson: separators must be a pair of strings",
    )
}

/// Converts JSON to a template value, keeping object key order and integer/float distinction.
pub fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::from(items.iter().map(json_to_value).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => Value::from_pairs(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), json_to_value(v))),
        ),
    }
}

/// Writes `value` as Python's `json.dumps` would, at nesting `level` (at most
/// [`MAX_DEPTH`](super::limits::MAX_DEPTH) deep; `out` bounds the size).
pub fn write_json(
    out: &mut Bounded,
    value: &Value,
    opts: &JsonOptions,
    level: usize,
) -> Result<(), Error> {
    check_depth(level, "tojson")?;
    match value.kind() {
        ValueKind::Map => write_json_map(out, value, opts, level),
        // Items are written as they come: a lazy `[x] * n` is never collected.
        ValueKind::Seq | ValueKind::Iterable => write_container(
            out,
            opts,
            level,
            ('[', ']'),
            value.try_iter()?,
            |out, item| write_json(out, &item, opts, level + 1),
        ),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&number_text(value, true)),
        ValueKind::String => {
            write_json_string(out, value.as_str().unwrap_or_default(), opts.ensure_ascii)
        }
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("Object of type {} is not JSON serializable", value.kind()),
        )),
    }
}

fn write_json_map(
    out: &mut Bounded,
    value: &Value,
    opts: &JsonOptions,
    level: usize,
) -> Result<(), Error> {
    let mut pairs: Vec<(String, Value)> = Vec::new();
    for key in value.try_iter()? {
        let item = value.get_item(&key)?;
        pairs.push((json_key(&key)?, item));
    }
    if opts.sort_keys {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let key_sep = opts
        .separators
        .as_ref()
        .map_or(": ", |s| s.1.as_str())
        .to_string();
    write_container(out, opts, level, ('{', '}'), pairs, |out, (key, item)| {
        write_json_string(out, &key, opts.ensure_ascii)?;
        out.push_str(&key_sep)?;
        write_json(out, &item, opts, level + 1)
    })
}

/// Python turns non-string keys into strings: `True` → `"true"`, `None` → `"null"`, `1` → `"1"`.
fn json_key(key: &Value) -> Result<String, Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_string()),
        ValueKind::None => Ok("null".into()),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.into()),
        ValueKind::Number => Ok(number_text(key, true)),
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("keys must be str, int, float, bool or None, not {other}"),
        )),
    }
}

fn write_container<T>(
    out: &mut Bounded,
    opts: &JsonOptions,
    level: usize,
    (open, close): (char, char),
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut Bounded, T) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(open)?;
    let mut items = items.into_iter().peekable();
    if items.peek().is_none() {
        return out.push(close);
    }
    let default_sep = if opts.indent.is_some() { "," } else { ", " };
    let item_sep = opts
        .separators
        .as_ref()
        .map_or(default_sep, |s| s.0.as_str());
    for (i, next) in items.enumerate() {
        if i > 0 {
            out.push_str(item_sep)?;
        }
        if let Some(indent) = &opts.indent {
            out.push('\n')?;
            out.push_repeated(indent, level + 1)?;
        }
        item(out, next)?;
    }
    if let Some(indent) = &opts.indent {
        out.push('\n')?;
        out.push_repeated(indent, level)?;
    }
    out.push(close)
}

/// A JSON string literal as Python writes it (`ensure_ascii` escapes non-ASCII with surrogates).
pub fn write_json_string(out: &mut Bounded, s: &str, ensure_ascii: bool) -> Result<(), Error> {
    out.push('"')?;
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\"")?,
            '\\' => out.push_str("\\\\")?,
            '\n' => out.push_str("\\n")?,
            '\r' => out.push_str("\\r")?,
            '\t' => out.push_str("\\t")?,
            '\u{8}' => out.push_str("\\b")?,
            '\u{c}' => out.push_str("\\f")?,
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"))?;
                }
            }
            c => out.push(c)?,
        }
    }
    out.push('"')
}

/// A number as Python prints it: integers as is, floats by `repr` (`1.0`, `1e+16`, `inf`).
fn number_text(value: &Value, json: bool) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    float_repr(f64::try_from(value.clone()).unwrap_or(f64::NAN), json)
}

/// Python's `repr(float)`; in JSON, NaN and the infinities are spelled `NaN`/`Infinity`.
pub fn float_repr(f: f64, json: bool) -> String {
    if f.is_nan() {
        return if json { "NaN" } else { "nan" }.into();
    }
    if f.is_infinite() {
        let word = if json { "Infinity" } else { "inf" };
        return if f < 0.0 {
            format!("-{word}")
        } else {
            word.into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits; Python picks the notation by exponent.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let plain = format!("{f}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Python's `str(value)`, which Jinja2 uses to print `{{ value }}`.
pub fn write_py_str(out: &mut Bounded, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Undefined => Ok(()),
        ValueKind::String => out.push_str(value.as_str().unwrap_or_default()),
        _ => write_py_repr(out, value, 0),
    }
}

/// Python's `repr(value)` for the JSON-like values templates handle, at nesting `level`.
pub fn write_py_repr(out: &mut Bounded, value: &Value, level: usize) -> Result<(), Error> {
    check_depth(level, "printing a value")?;
    match value.kind() {
        ValueKind::Undefined => Ok(()),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number_text(value, false)),
        ValueKind::String => write_py_string_repr(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[')?;
            for (i, item) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ")?;
                }
                write_py_repr(out, &item, level + 1)?;
            }
            out.push(']')
        }
        ValueKind::Map => {
            out.push('{')?;
            for (i, key) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ")?;
                }
                write_py_repr(out, &key, level + 1)?;
                out.push_str(": ")?;
                write_py_repr(out, &value.get_item(&key).unwrap_or_default(), level + 1)?;
            }
            out.push('}')
        }
        // Functions, macros, bytes: minijinja's own spelling, which holds no nested values.
        _ => out.push_str(&value.to_string()),
    }
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`.
fn write_py_string_repr(out: &mut Bounded, s: &str) -> Result<(), Error> {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote)?;
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\")?,
            '\n' => out.push_str("\\n")?,
            '\r' => out.push_str("\\r")?,
            '\t' => out.push_str("\\t")?,
            c if c == quote => {
                out.push('\\')?;
                out.push(c)?;
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))?;
            }
            c => out.push(c)?,
        }
    }
    out.push(quote)
}
