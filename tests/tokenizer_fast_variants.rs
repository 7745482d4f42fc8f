//! The fast path on every BPE setting it claims (subword prefix/suffix, unknown token,
//! byte fallback, ignore_merges, legacy merges) and the full path for everything else.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use tinkex::tokenizer::Tokenizer;

use crate::support::tokenizer_fast::{assert_parity, load_cached, trained_json, write_json, Split};

/// Writes `json`, loads it both ways, and checks parity on ~3,000 generated ids.
fn check_variant(json: &Value, expect_fast: bool) -> (Tokenizer, Tokenizer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let source = write_json(tmp.path(), json);
    let full = Tokenizer::from_file(&source).unwrap();
    let cached = load_cached(&source, &tmp.path().join("cache"));
    assert_eq!(cached.uses_fast_path(), expect_fast);
    assert!(assert_parity(&full, &cached, 11, 3_000) >= 3_000);
    (full, cached, tmp)
}

/// Adds `token` to the vocabulary with the next free id.
fn add_vocab(json: &mut Value, token: &str) {
    let vocab = json["model"]["vocab"].as_object_mut().unwrap();
    let next = vocab.len();
    vocab.insert(token.to_string(), json!(next));
}

#[test]
fn byte_level_bpe() {
    check_variant(&trained_json(Split::ByteLevel, 500), true);
}

#[test]
fn prefix_suffix_and_unknown_token() {
    let mut json = trained_json(Split::Subword, 500);
    add_vocab(&mut json, "<unk>");
    json["model"]["unk_token"] = json!("<unk>");
    let (full, fast, _tmp) = check_variant(&json, true);
    // A character never seen in training becomes <unk> on both paths.
    let unk = full.token_to_id("<unk>").unwrap();
    assert!(fast.encode("a ☃ b").unwrap().contains(&unk));
    json["model"]["fuse_unk"] = json!(true);
    check_variant(&json, true);
}

#[test]
fn byte_fallback() {
    let mut json = trained_json(Split::Subword, 400);
    for byte in 0..=255u8 {
        add_vocab(&mut json, &format!("<{byte:#04X}>"));
    }
    add_vocab(&mut json, "<unk>");
    json["model"]["unk_token"] = json!("<unk>");
    json["model"]["byte_fallback"] = json!(true);
    json["decoder"] = json!({"type": "Sequence", "decoders": [
        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "BPEDecoder", "suffix": "</w>"}
    ]});
    let (_, fast, _tmp) = check_variant(&json, true);
    // "☃</w>" is not in the vocabulary: its 3 + 4 bytes (suffix included) fall back.
    let snowman = fast.encode("☃").unwrap();
    assert_eq!(snowman.len(), 7, "{snowman:?}");
    for id in snowman {
        assert!(fast.id_to_token(id).unwrap().starts_with("<0x"), "id {id}");
    }
}

#[test]
fn ignore_merges_and_legacy_merge_strings() {
    let mut json = trained_json(Split::ByteLevel, 500);
    json["model"]["ignore_merges"] = json!(true);
    check_variant(&json, true);
    let merges = json["model"]["merges"].as_array().unwrap();
    let legacy: Vec<Value> = merges
        .iter()
        .map(|m| {
            json!(format!(
                "{} {}",
                m[0].as_str().unwrap(),
                m[1].as_str().unwrap()
            ))
        })
        .collect();
    json["model"]["merges"] = Value::Array(legacy);
    check_variant(&json, true);
}

#[test]
fn dropout_uses_the_full_path_and_remembers_it() {
    let mut json = trained_json(Split::ByteLevel, 300);
    json["model"]["dropout"] = json!(0.5);
    let tmp = tempfile::tempdir().unwrap();
    let source = write_json(tmp.path(), &json);
    let cache = tmp.path().join("cache");
    assert!(!load_cached(&source, &cache).uses_fast_path());
    let marker: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tkc"))
        .collect();
    assert_eq!(marker.len(), 1, "a full-path-only marker is stored");
    let marker = &marker[0];
    assert!(
        fs::metadata(marker).unwrap().len() <= 128,
        "the marker is a header only"
    );
    assert!(!load_cached(&source, &cache).uses_fast_path());
}

#[test]
fn other_models_use_the_full_path() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = load_cached(Path::new("fixtures/tiny/tokenizer.json"), tmp.path());
    assert!(!tok.uses_fast_path());
    let full = Tokenizer::from_file(Path::new("fixtures/tiny/tokenizer.json")).unwrap();
    assert_eq!(
        tok.encode("hello world").unwrap(),
        full.encode("hello world").unwrap()
    );
}

#[test]
fn a_broken_source_reports_the_usual_error() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("tokenizer.json");
    fs::write(&source, "{not json").unwrap();
    let err = load_cached_err(&source, &tmp.path().join("cache"));
    assert!(err.starts_with("Failed to load tokenizer "), "{err}");
    assert!(err.contains("is not a valid tokenizer.json"), "{err}");
    let missing = load_cached_err(&tmp.path().join("missing.json"), tmp.path());
    assert!(missing.ends_with("missing.json: no such file"), "{missing}");
}

fn load_cached_err(source: &Path, cache: &Path) -> String {
    let options = tinkex::tokenizer::TokenizerOptions::with_cache_dir(cache);
    Tokenizer::from_file_with(source, &options)
        .unwrap_err()
        .to_string()
}
