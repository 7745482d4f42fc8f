//! The official CLI's output documents, as pure functions: the `-f json` documents of
//! `billing usage`, `billing checkpoint-storage` and `checkpoint delete`, the CSV files of
//! `billing usage --csv/--sessions-csv` and `checkpoint-storage --csv`, and Python's JSON
//! and CSV text rules (indent 2, ASCII only, `repr` floats, `\r\n` rows) so bytes match.

use serde_json::{json, Map, Value};

use crate::client::billing::{EventInfo, Storage, Usage, UsageEvent};

/// `billing usage -f json`: `{"data", "sessions", "cost_data_through"}`.
pub fn usage_document(usage: &Usage) -> Value {
    let sessions: Map<String, Value> = usage
        .sessions
        .iter()
        .map(|(id, s)| {
            let meta = s.get("user_metadata").cloned().unwrap_or(Value::Null);
            (id.clone(), json!({ "user_metadata": meta }))
        })
        .collect();
    json!({
        "data": usage.data.iter().map(event_value).collect::<Vec<_>>(),
        "sessions": sessions,
        "cost_data_through": usage.cost_data_through.as_deref().map(utc_z),
    })
}

/// `billing checkpoint-storage -f json`: `{"effective_rate_usd_per_gigabyte_month", "data"}`.
pub fn storage_document(storage: &Storage) -> Value {
    json!({
        "effective_rate_usd_per_gigabyte_month": storage.effective_rate_usd_per_gigabyte_month,
        "data": storage.data,
    })
}

/// `checkpoint delete -f json`: `{"deleted_count": N, "failed": [{"tinker_path", "error"}]}`.
pub fn delete_document(deleted: usize, failed: &[(String, String)]) -> Value {
    let failed: Vec<Value> = failed
        .iter()
        .map(|(p, e)| json!({ "tinker_path": p, "error": e }))
        .collect();
    json!({ "deleted_count": deleted, "failed": failed })
}

/// One event as the SDK dumps it: every envelope field, times with `Z`, and `event_info`
/// with its type's own fields in the SDK's order (defaults filled in).
fn event_value(e: &UsageEvent) -> Value {
    json!({
        "bucket_start": e.bucket_start.as_deref().map(utc_z),
        "bucket_end": e.bucket_end.as_deref().map(utc_z),
        "base_model": e.base_model,
        "user_id": e.user_id,
        "user_name": e.user_name,
        "session_id": e.session_id,
        "project_id": e.project_id,
        "estimated_cost_usd": e.estimated_cost_usd,
        "effective_rate_usd_per_million_tokens": e.effective_rate_usd_per_million_tokens,
        "effective_rate_usd_per_gigabyte_month": e.effective_rate_usd_per_gigabyte_month,
        "event_info": info_value(&e.event_info),
    })
}

fn info_value(i: &EventInfo) -> Value {
    let kind = i.kind.clone();
    match i.kind.as_deref() {
        Some("training") | Some("sampling_sample") => {
            json!({ "type": kind, "token_count": i.token_count })
        }
        Some("sampling_prefill") => {
            json!({ "type": kind, "cached": i.cached, "token_count": i.token_count })
        }
        Some("checkpoint") => json!({ "type": kind, "count": i.count }),
        Some("storage") => json!({
            "type": kind,
            "free": i.free.unwrap_or(false),
            "gigabyte_hours": i.gigabyte_hours,
        }),
        // A kind this SDK does not know: everything that was sent, nothing invented.
        _ => {
            let mut m = Map::new();
            m.insert("type".into(), json!(kind));
            let all = serde_json::to_value(i).unwrap_or(Value::Null);
            for (k, v) in all.as_object().into_iter().flatten() {
                if k != "type" && !v.is_null() {
                    m.insert(k.clone(), v.clone());
                }
            }
            Value::Object(m)
        }
    }
}

/// A UTC time as pydantic writes it: `+00:00` becomes `Z`.
fn utc_z(text: &str) -> String {
    match text.strip_suffix("+00:00") {
        Some(head) => format!("{head}Z"),
        None => text.to_string(),
    }
}

/// `billing usage --csv`: the events with `event_info` flattened into each row.
pub fn usage_csv(usage: &Usage) -> String {
    let rows: Vec<Map<String, Value>> = usage
        .data
        .iter()
        .map(|e| {
            let Value::Object(mut row) = event_value(e) else {
                return Map::new();
            };
            if let Some(Value::Object(info)) = row.remove("event_info") {
                row.extend(info);
            }
            row
        })
        .collect();
    csv(&rows)
}

/// `billing usage --sessions-csv`: `session_id,user_metadata` (metadata as JSON text).
pub fn sessions_csv(usage: &Usage) -> String {
    let rows: Vec<Map<String, Value>> = usage_document(usage)["sessions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, s)| {
            let meta = match &s["user_metadata"] {
                Value::Null => Value::Null,
                other => Value::String(python_json(other, None)),
            };
            let mut row = Map::new();
            row.insert("session_id".into(), Value::String(id.clone()));
            row.insert("user_metadata".into(), meta);
            row
        })
        .collect();
    csv(&rows)
}

/// `billing checkpoint-storage --csv`: each row led by the storage rate.
pub fn storage_csv(storage: &Storage) -> String {
    let rows: Vec<Map<String, Value>> = storage
        .data
        .iter()
        .map(|r| {
            let mut row = Map::new();
            row.insert(
                "effective_rate_usd_per_gigabyte_month".into(),
                json!(storage.effective_rate_usd_per_gigabyte_month),
            );
            if let Ok(Value::Object(fields)) = serde_json::to_value(r) {
                row.extend(fields);
            }
            row
        })
        .collect();
    csv(&rows)
}

/// Python's `csv.DictWriter`: columns in first-seen order, `\r\n` rows, minimal quoting,
/// empty cells for null or missing values.
fn csv(rows: &[Map<String, Value>]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for key in row.keys() {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    csv_line(&mut out, &header);
    for row in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| row.get(*c).map_or(String::new(), python_str))
            .collect();
        csv_line(&mut out, &cells);
    }
    out
}

fn csv_line(out: &mut String, cells: &[String]) {
    if let [only] = cells {
        if only.is_empty() {
            out.push_str("\"\"\r\n");
            return;
        }
    }
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
}

/// Python's `str()` of a JSON value as the CSV writer shows it.
fn python_str(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => number(n),
        Value::String(s) => s.clone(),
        other => python_json(other, None),
    }
}

fn number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => python_float(f),
        _ => n.to_string(),
    }
}

/// Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 or from 1e16.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{text}")
}

/// Python's `json.dumps(value, indent=…)` text (`ensure_ascii`, `repr` floats): `None` is
/// the one-line form (`", "` and `": "`), `Some(2)` what `-f json` prints.
pub fn python_json(value: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_json(&mut out, value, indent, 0);
    out
}

fn write_json(out: &mut String, v: &Value, indent: Option<usize>, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let sep = if indent.is_some() { "," } else { ", " };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, depth + 1);
                write_json(out, item, indent, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, depth + 1);
                write_string(out, k);
                out.push_str(": ");
                write_json(out, item, indent, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        for (f, want) in [
            (2.0, "2.0"),
            (0.25, "0.25"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0016666666666666668, "0.0016666666666666668"),
            (-1.5, "-1.5"),
            (0.0, "0.0"),
            (123456.789, "123456.789"),
            (1.5e-07, "1.5e-07"),
        ] {
            assert_eq!(python_float(f), want);
        }
    }

    #[test]
    fn json_text_matches_python() {
        let v = json!({"a": [1, 2.0, "é\u{1F600}"], "b": {}, "c": null});
        assert_eq!(
            python_json(&v, None),
            r#"{"a": [1, 2.0, "\u00e9\ud83d\ude00"], "b": {}, "c": null}"#
        );
        assert_eq!(
            python_json(&json!({"x": [1]}), Some(2)),
            "{\n  \"x\": [\n    1\n  ]\n}"
        );
    }
}
