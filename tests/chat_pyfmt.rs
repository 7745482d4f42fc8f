//! Python's spelling of values: `json.dumps` as transformers' `tojson` calls it, and `str()`.

use tinkex::chat::limits::Bounded;
use tinkex::chat::pyfmt::{float_repr, json_to_value, write_json, write_py_str, JsonOptions};

fn dumps(json: &str, opts: &JsonOptions) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut out = Bounded::new("test");
    write_json(&mut out, &json_to_value(&v), opts, 0).unwrap();
    out.into_string()
}

#[test]
fn json_matches_python_defaults() {
    let opts = JsonOptions::default();
    assert_eq!(
        dumps(r#"{"b": [1, 2.5, true, null], "a": "é<>&'\u0001"}"#, &opts),
        r#"{"b": [1, 2.5, true, null], "a": "é<>&'\u0001"}"#
    );
    assert_eq!(dumps("[]", &opts), "[]");
    assert_eq!(dumps("{}", &opts), "{}");
}

#[test]
fn json_indent_sort_and_ascii() {
    let opts = JsonOptions {
        indent: Some("  ".into()),
        sort_keys: true,
        ensure_ascii: true,
        ..JsonOptions::default()
    };
    assert_eq!(
        dumps(r#"{"b": {"x": []}, "a": "🦀é"}"#, &opts),
        "{\n  \"a\": \"\\ud83e\\udd80\\u00e9\",\n  \"b\": {\n    \"x\": []\n  }\n}"
    );
}

#[test]
fn floats_follow_python_repr() {
    assert_eq!(float_repr(1.0, true), "1.0");
    assert_eq!(float_repr(0.1, true), "0.1");
    assert_eq!(float_repr(1e16, true), "1e+16");
    assert_eq!(float_repr(1.5e-5, true), "1.5e-05");
    assert_eq!(float_repr(123456789012345.6, true), "123456789012345.6");
    assert_eq!(float_repr(f64::NEG_INFINITY, true), "-Infinity");
}

#[test]
fn py_str_spells_python_values() {
    let v: serde_json::Value =
        serde_json::from_str(r#"{"a": [true, null, 1.0, "it's"], "b": "x"}"#).unwrap();
    let mut out = Bounded::new("test");
    write_py_str(&mut out, &json_to_value(&v)).unwrap();
    assert_eq!(
        out.as_str(),
        r#"{'a': [True, None, 1.0, "it's"], 'b': 'x'}"#
    );
}
