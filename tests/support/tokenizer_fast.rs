//! Small BPE tokenizers trained on the spot (fast even in debug builds) and parity helpers
//! for the fast-path tests.

use std::path::Path;

use serde_json::{json, Value};
use tinkex::tokenizer::{Tokenizer, TokenizerOptions};
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    TokenizerImpl,
};

use crate::support::text_gen::{random_text, Rng};

type Trained = TokenizerImpl<
    BPE,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// How the small tokenizer splits words before BPE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Split {
    /// GPT-2 / Qwen style: bytes mapped to printable chars.
    ByteLevel,
    /// Plain whitespace and punctuation splitting, with `##` prefix and `</w>` suffix.
    Subword,
}

/// The training corpus: generated mixed text, the same on every run.
fn corpus() -> Vec<String> {
    let mut rng = Rng::new(7);
    (0..120).map(|_| random_text(&mut rng, 40)).collect()
}

/// `tokenizer.json` text of a BPE trained on [`corpus`] with `vocab_size` entries.
pub fn trained_json(split: Split, vocab_size: usize) -> Value {
    let mut builder = BpeTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(1)
        .show_progress(false)
        .special_tokens(vec![
            AddedToken::from("<|im_start|>", true),
            AddedToken::from("<|im_end|>", true),
        ]);
    let mut model = BPE::builder();
    let pre: PreTokenizerWrapper = match split {
        Split::ByteLevel => {
            builder = builder.initial_alphabet(ByteLevel::alphabet().into_iter().collect());
            ByteLevel::default().into()
        }
        Split::Subword => {
            builder = builder
                .continuing_subword_prefix("##".into())
                .end_of_word_suffix("</w>".into());
            model = model
                .continuing_subword_prefix("##".into())
                .end_of_word_suffix("</w>".into());
            Whitespace.into()
        }
    };
    let mut trainer = builder.build();
    let mut tok: Trained = TokenizerImpl::new(model.build().expect("empty BPE builds"));
    tok.with_pre_tokenizer(Some(pre));
    if split == Split::ByteLevel {
        tok.with_decoder(Some(ByteLevel::default()));
    }
    let corpus = corpus();
    tok.train(&mut trainer, corpus.iter())
        .expect("training succeeds");
    let mut value: Value =
        serde_json::from_str(&tok.to_string(false).expect("serializes")).expect("valid JSON");
    if split == Split::Subword {
        value["decoder"] = json!({"type": "BPEDecoder", "suffix": "</w>"});
    }
    value
}

/// Writes `json` as `dir/tokenizer.json` and returns its path.
pub fn write_json(dir: &Path, json: &Value) -> std::path::PathBuf {
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, serde_json::to_vec(json).unwrap()).unwrap();
    path
}

/// Loads `path` with the cache in `cache`.
pub fn load_cached(path: &Path, cache: &Path) -> Tokenizer {
    Tokenizer::from_file_with(path, &TokenizerOptions::with_cache_dir(cache))
        .expect("tokenizer loads through the cache")
}

/// Encodes generated strings with both tokenizers until `min_ids` ids; returns the count.
///
/// Panics with the first differing string (ids or decoded text).
pub fn assert_parity(full: &Tokenizer, fast: &Tokenizer, seed: u64, min_ids: usize) -> usize {
    let mut rng = Rng::new(seed);
    let mut ids = 0;
    while ids < min_ids {
        let parts = 1 + rng.below(80);
        let text = random_text(&mut rng, parts);
        assert_same(full, fast, &text);
        ids += full.encode(&text).unwrap().len();
    }
    ids
}

/// Both tokenizers give the same ids for `text`, and the same text for those ids.
pub fn assert_same(full: &Tokenizer, fast: &Tokenizer, text: &str) {
    let want = full.encode(text);
    let got = fast.encode(text);
    match (&want, &got) {
        (Ok(want), Ok(got)) => {
            assert_eq!(want, got, "ids differ for {text:?}");
            assert_eq!(
                full.decode(want).unwrap(),
                fast.decode(got).unwrap(),
                "decode differs for {text:?}"
            );
        }
        (Err(_), Err(_)) => {}
        _ => panic!("one side failed for {text:?}: full {want:?}, fast {got:?}"),
    }
}
