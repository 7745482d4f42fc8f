//! The one folder of test helpers: the binary runner (`run`), the mock Tinker API for CLI
//! tests (`mock`), client-test mocks (`client`), the demo server's HTTP driver (`demo_api`),
//! end-to-end scratch directories (`e2e`), tokenizer helpers (`tokenizer`,
//! `tokenizer_fast`, `text_gen`), and the fixtures and fake key they all share.

#![allow(dead_code)]

pub mod catalog;
pub mod client;
pub mod demo_api;
pub mod download;
pub mod e2e;
pub mod hostile;
pub mod hostile_gen;
pub mod lifecycle_api;
pub mod mock;
pub mod modgraph;
pub mod run;
pub mod slow_api;
pub mod text_gen;
pub mod tokenizer;
pub mod tokenizer_fast;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use mock::{tinkex_at, MockTinker};
pub use run::{tinkex, Outcome, Tinkex};

/// The fake API key every test uses (the right prefix, long enough to be masked).
pub const KEY: &str = "tml-test-key-0123456789abcdef";

/// Path of a file under `fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

/// The small byte-level BPE tokenizer built by tools/gen_small_tokenizer.py.
pub fn small_tokenizer() -> String {
    fixture("small/tokenizer.json").display().to_string()
}

/// The Qwen3 tokenizer fixture.
pub fn qwen3_tokenizer() -> String {
    fixture("qwen3/tokenizer.json").display().to_string()
}

/// The messages of conversation `name` in fixtures/chat/conversations.json.
pub fn conversation(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture("chat/conversations.json")).unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    let conv = data["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap();
    conv["messages"].clone()
}

/// A chat run of `Qwen/Qwen3-8B` with the prompt "hi" and tokenizer `tok`, then `extra`.
pub fn qwen3_chat_hi<'a>(tok: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let args = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--chat",
        "--prompt",
        "hi",
        "--tokenizer",
        tok,
    ];
    args.iter().chain(extra).copied().collect()
}

/// The hint printed after every usage error of `tinkex run`.
pub const HINT: &str = "tinkex: hint: run 'tinkex run --help' for the flags and an example\n";

/// Runs `args` expecting a usage error: exit 2, nothing on stdout, `message` then the hint.
pub fn usage_error(args: &[&str], message: &str) {
    let out = tinkex(args).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, format!("tinkex: error: {message}\n{HINT}"));
}

/// Writes `lines` as `dir/in.jsonl`; returns its path.
pub fn write_input(dir: &Path, lines: &[&str]) -> String {
    let path = dir.join("in.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

/// Each line of `text` parsed as JSON.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Journal records with their `"input_hash"` (16 hex digits, checked here) taken out, to
/// compare the rest exactly.
pub fn without_input_hash(records: Vec<Value>) -> Vec<Value> {
    records
        .into_iter()
        .map(|mut record| {
            let hash = record.as_object_mut().and_then(|o| o.remove("input_hash"));
            let hash = hash.as_ref().and_then(Value::as_str).unwrap_or("");
            assert!(
                hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "{record}"
            );
            record
        })
        .collect()
}

/// The hash a journal record carries of its input line (`text`, without the newline).
pub fn input_hash(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// Joins owned and borrowed arguments for [`tinkex`].
pub fn with_args<'a>(base: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}
