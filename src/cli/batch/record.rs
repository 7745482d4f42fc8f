//! What makes a line a tinkex journal record, read the same way by resume, reorder and merge:
//! its input line number, its id, its input line's hash, and a result's or an error's fields.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use crate::error::Category;

/// The field naming the hash of the input line a record was made from.
pub const HASH_FIELD: &str = "input_hash";

/// The hash a record carries of its input line (the line's bytes without the newline).
pub fn line_hash(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// Which command wrote a successful record, told by its result field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `tinkex run --input`: `"sequences"`.
    Run,
    /// `tinkex score --input`: `"results"`.
    Score,
}

impl Kind {
    /// The command that writes this kind.
    pub fn command(self) -> &'static str {
        match self {
            Kind::Run => "tinkex run",
            Kind::Score => "tinkex score",
        }
    }
}

/// One journal row, read.
#[derive(Debug)]
pub struct Record {
    /// The 1-based input line it answers.
    pub line: usize,
    /// Its id, as written.
    pub id: Value,
    /// The failure's category; None for a success.
    pub failure: Option<Category>,
    /// A success's kind; None for a failure (either command writes those alike).
    pub kind: Option<Kind>,
    /// The hash of its input line; None in a journal of an older tinkex.
    pub input_hash: Option<String>,
}

#[derive(Deserialize)]
struct Raw {
    line: Option<u64>,
    id: Option<Value>,
    error: Option<Value>,
    input_hash: Option<String>,
    sequences: Option<IgnoredAny>,
    results: Option<IgnoredAny>,
}

/// What a row must hold to be a record, for refusals.
pub const SHAPE: &str = "a JSON object with \"id\", a \"line\" number, and \"sequences\", \"results\" or an \"error\" with a category";

/// Reads one journal row (without its newline); None when it is not a tinkex record.
pub fn parse(bytes: &[u8]) -> Option<Record> {
    let raw: Raw = serde_json::from_slice(bytes).ok()?;
    let line = raw
        .line
        .and_then(|l| usize::try_from(l).ok())
        .filter(|l| *l >= 1)?;
    let id = raw.id?;
    let (failure, kind) = match (raw.error, raw.sequences, raw.results) {
        (Some(error), None, None) => (Some(category(&error)?), None),
        (None, Some(_), None) => (None, Some(Kind::Run)),
        (None, None, Some(_)) => (None, Some(Kind::Score)),
        _ => return None,
    };
    Some(Record {
        line,
        id,
        failure,
        kind,
        input_hash: raw.input_hash,
    })
}

/// A failure's category as batch mode writes it; None for anything else.
fn category(error: &Value) -> Option<Category> {
    let name = error.get("category")?.as_str()?;
    error.get("message")?.as_str()?;
    [
        Category::User,
        Category::Auth,
        Category::Server,
        Category::Timeout,
        Category::Unexpected,
    ]
    .into_iter()
    .find(|c| c.name() == name)
}

/// The record of a line that failed: `{"id", "line", "error": {"category", "message"}}`,
/// the message scrubbed of secrets.
pub fn failure(id: &Value, line: usize, category: Category, message: &str) -> String {
    let error =
        serde_json::json!({"category": category.name(), "message": crate::redact::scrub(message)});
    serde_json::json!({"id": id, "line": line, "error": error}).to_string()
}

/// `record` (a JSON object's text) with the input line's hash added as its last field.
pub fn stamped(record: &str, hash: &str) -> String {
    match record.trim_end().strip_suffix('}') {
        Some(open) if open.trim_end() != "{" => format!("{open},\"{HASH_FIELD}\":\"{hash}\"}}"),
        _ => record.to_string(),
    }
}

/// The input line number a record's text names, to find the line it was made from.
pub fn line_of(record: &str) -> Option<usize> {
    #[derive(Deserialize)]
    struct LineOnly {
        line: Option<u64>,
    }
    let parsed: LineOnly = serde_json::from_str(record).ok()?;
    parsed.line.and_then(|l| usize::try_from(l).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_told_by_what_tinkex_writes() {
        let ok = parse(br#"{"id":"a","line":2,"sequences":[],"input_hash":"00ff"}"#).unwrap();
        assert_eq!((ok.line, ok.kind, ok.failure), (2, Some(Kind::Run), None));
        assert_eq!(ok.input_hash.as_deref(), Some("00ff"));
        let score = parse(br#"{"id":1,"line":1,"results":[]}"#).unwrap();
        assert_eq!(score.kind, Some(Kind::Score));
        let failed =
            parse(br#"{"id":1,"line":1,"error":{"category":"timeout","message":"m"}}"#).unwrap();
        assert_eq!(failed.failure, Some(Category::Timeout));
        for not_a_record in [
            &br#"{"id":"a","prompt":"hi"}"#[..],
            br#"{"id":"a","line":1}"#,
            br#"{"line":1,"sequences":[]}"#,
            br#"{"id":1,"line":0,"sequences":[]}"#,
            br#"{"id":1,"line":1,"error":"boom"}"#,
            br#"{"id":1,"line":1,"error":{"category":"odd","message":"m"}}"#,
            br#"{"id":1,"line":1,"sequences":[],"results":[]}"#,
            b"{\"id\":\"\xff\",\"line\":1,\"sequences\":[]}",
        ] {
            assert!(
                parse(not_a_record).is_none(),
                "{}",
                String::from_utf8_lossy(not_a_record)
            );
        }
    }

    #[test]
    fn stamping_appends_the_hash() {
        let hash = line_hash(b"{\"prompt\":\"hi\"}");
        assert_eq!(hash.len(), 16);
        let record = stamped(r#"{"id":1,"line":3,"sequences":[]}"#, &hash);
        assert_eq!(parse(record.as_bytes()).unwrap().input_hash, Some(hash));
        assert_eq!(line_of(&record), Some(3));
    }
}
