//! Fast path vs full tokenizer on the real Qwen3 tokenizer: the Python corpus, generated
//! strings (≥ 100,000 ids in all), long words, and the vocabulary accessors.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tinkex::tokenizer::Tokenizer;

use crate::support::tokenizer_fast::{assert_parity, assert_same, load_cached};

const QWEN3: &str = "fixtures/qwen3/tokenizer.json";

struct Pair {
    full: Tokenizer,
    fast: Tokenizer,
    _cache: tempfile::TempDir,
}

/// Built once per test binary: the full parse and the cache build are slow in debug builds.
fn qwen3() -> &'static Pair {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    PAIR.get_or_init(|| {
        let cache = tempfile::tempdir().unwrap();
        let fast = load_cached(Path::new(QWEN3), cache.path());
        let full = Tokenizer::from_file(Path::new(QWEN3)).unwrap();
        Pair {
            full,
            fast,
            _cache: cache,
        }
    })
}

#[test]
fn qwen3_uses_the_fast_path() {
    let pair = qwen3();
    assert!(pair.fast.uses_fast_path());
    assert!(!pair.full.uses_fast_path());
}

#[test]
fn fast_path_matches_python_on_the_issue_3_corpus() {
    let text = std::fs::read_to_string("fixtures/qwen3/parity.json").unwrap();
    let parity: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fast = &qwen3().fast;
    let mut ids = 0;
    for case in parity["encode"].as_array().unwrap() {
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let got = fast.encode(case["text"].as_str().unwrap()).unwrap();
        assert_eq!(got, want, "case {}", case["name"]);
        assert_eq!(
            fast.decode(&got).unwrap(),
            case["decoded"],
            "case {}",
            case["name"]
        );
        ids += got.len();
    }
    for case in parity["decode"].as_array().unwrap() {
        let case_ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(
            fast.decode(&case_ids).unwrap(),
            case["decoded"],
            "case {}",
            case["name"]
        );
    }
    assert!(ids > 1000, "the corpus has only {ids} ids");
}

#[test]
fn fast_path_matches_full_on_generated_text_part_1() {
    let pair = qwen3();
    assert!(assert_parity(&pair.full, &pair.fast, 1, 50_000) >= 50_000);
}

#[test]
fn fast_path_matches_full_on_generated_text_part_2() {
    let pair = qwen3();
    assert!(assert_parity(&pair.full, &pair.fast, 2, 50_000) >= 50_000);
}

#[test]
fn edge_cases_match() {
    let pair = qwen3();
    for text in [
        "",
        " ",
        "\n",
        "<|im_start|>",
        "<|im_start|><|im_end|>",
        "x<|endoftext|>y",
        "<|im_start",
        &" ".repeat(300),
        &"\n".repeat(100),
        &"9".repeat(500),
        &"ab".repeat(400),
        "\u{0}\u{1}\u{7f}\u{fffd}",
        "ﬁ e\u{301} \u{2028}",
    ] {
        assert_same(&pair.full, &pair.fast, text);
    }
}

#[test]
fn long_unbroken_words_are_fast_and_match() {
    let pair = qwen3();
    let word = "antidisestablishmentarianism今天😀".repeat(300); // ~12 KB, one pre-token
    assert_same(&pair.full, &pair.fast, &word);
    // Candidate collection is bounded by the longest token, and repeated windows are
    // skipped, so runs of the longest tokens (spaces) stay linear. (`make parity` runs
    // 1 MB words in a release build.)
    for huge in [" ".repeat(200_000), "abcdefghij".repeat(10_000)] {
        let started = Instant::now();
        let ids = pair.fast.encode(&huge).unwrap();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(20), "took {took:?}");
        assert_eq!(pair.fast.decode(&ids).unwrap(), huge);
    }
}

#[test]
fn vocabulary_accessors_agree() {
    let Pair { full, fast, .. } = qwen3();
    assert_eq!(fast.vocab_size(), full.vocab_size());
    for id in (0..full.vocab_size() as u32 + 3).step_by(331) {
        assert_eq!(fast.id_to_token(id), full.id_to_token(id), "id {id}");
        assert_eq!(fast.is_special(id), full.is_special(id), "id {id}");
        if let Some(token) = full.id_to_token(id) {
            assert_eq!(fast.token_to_id(&token), Some(id), "token {token:?}");
        }
    }
    for special in ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "nope", ""] {
        assert_eq!(fast.token_to_id(special), full.token_to_id(special));
    }
    let all: Vec<u32> = (0..full.vocab_size() as u32 + 2).step_by(53).collect();
    assert_eq!(fast.decode(&all).unwrap(), full.decode(&all).unwrap());
}
