//! Parity with Python's `tokenizers` on the real Qwen3 tokenizer (fixtures/qwen3/parity.json).

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;
use tinkex::tokenizer::Tokenizer;

#[derive(Deserialize)]
struct Parity {
    vocab_size_with_added_tokens: usize,
    encode: Vec<EncodeCase>,
    decode: Vec<DecodeCase>,
}

#[derive(Deserialize)]
struct EncodeCase {
    name: String,
    text: String,
    ids: Vec<u32>,
    decoded: String,
}

#[derive(Deserialize)]
struct DecodeCase {
    name: String,
    ids: Vec<u32>,
    decoded: String,
}

/// Loaded once per test binary: parsing the 11 MB file is slow in debug builds.
fn qwen3() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        Tokenizer::from_file(Path::new("fixtures/qwen3/tokenizer.json"))
            .expect("Qwen3 fixture loads")
    })
}

fn parity() -> Parity {
    let text = std::fs::read_to_string("fixtures/qwen3/parity.json").expect("parity fixture");
    serde_json::from_str(&text).expect("parity fixture is valid JSON")
}

#[test]
fn encode_and_decode_match_python_on_the_whole_corpus() {
    let parity = parity();
    assert!(
        parity.encode.len() >= 40,
        "the corpus has {} strings",
        parity.encode.len()
    );
    let tok = qwen3();
    let mut failures = Vec::new();
    for case in &parity.encode {
        let ids = tok.encode(&case.text).unwrap();
        if ids != case.ids {
            failures.push(format!(
                "{}: encode gave {ids:?}, Python {:?}",
                case.name, case.ids
            ));
            continue;
        }
        let decoded = tok.decode(&ids).unwrap();
        if decoded != case.decoded {
            failures.push(format!(
                "{}: decode gave {decoded:?}, Python {:?}",
                case.name, case.decoded
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn decode_of_arbitrary_ids_matches_python() {
    let tok = qwen3();
    for case in parity().decode {
        assert_eq!(
            tok.decode(&case.ids).unwrap(),
            case.decoded,
            "case {}",
            case.name
        );
    }
}

#[test]
fn special_tokens_are_single_ids_and_kept_on_decode() {
    let tok = qwen3();
    let im_start = tok.token_to_id("<|im_start|>").unwrap();
    let im_end = tok.token_to_id("<|im_end|>").unwrap();
    assert_eq!((im_start, im_end), (151644, 151645));
    assert_eq!(tok.id_to_token(im_end).as_deref(), Some("<|im_end|>"));
    assert!(tok.is_special(im_end));
    assert!(!tok.is_special(tok.token_to_id("hello").unwrap()));
    let ids = tok.encode("<|im_start|>user").unwrap();
    assert_eq!(ids[0], im_start);
    assert_eq!(tok.decode(&ids).unwrap(), "<|im_start|>user");
}

#[test]
fn vocab_size_counts_added_tokens() {
    let tok = qwen3();
    let size = tok.vocab_size();
    assert_eq!(size, parity().vocab_size_with_added_tokens);
    assert!(tok.id_to_token(size as u32 - 1).is_some());
    assert!(tok.id_to_token(size as u32).is_none());
    assert_eq!(tok.id(), "fixtures/qwen3/tokenizer.json");
}

#[test]
fn tokenizer_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let tok = qwen3();
    assert_send_sync(tok);
    let ids = std::thread::scope(|s| s.spawn(|| tok.encode("shared").unwrap()).join().unwrap());
    assert_eq!(tok.decode(&ids).unwrap(), "shared");
}
