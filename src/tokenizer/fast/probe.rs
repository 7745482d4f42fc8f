//! The self-check run when a cache is built: the fast and full tokenizers must agree on a
//! probe set, or the tokenizer is marked "full path only".

use tokenizers::{
    DecoderWrapper, Model, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    TokenizerImpl,
};

use super::FastImpl;

/// A tokenizer to check against: the full one, or the crate's BPE over the same tables.
pub type Reference<M> =
    TokenizerImpl<M, NormalizerWrapper, PreTokenizerWrapper, PostProcessorWrapper, DecoderWrapper>;

/// Text that exercises the pre-tokenizer: scripts, whitespace runs, digits, emoji, code.
const FIXED: &[&str] = &[
    "",
    " ",
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "   leading and trailing   \n\n\t\tx  \r\n y",
    "fn main() { println!(\"{}\", 40 + 2); } // comment\n    return x_1;",
    "今天天气很好，我们去公园散步吧。こんにちは世界。안녕하세요 Привет мир مرحبا",
    "👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽 café naïve résumé e\u{301} ﬁ Ω",
    "1234567890 3.14159 -42 1e10 0x1F 2024-01-01",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "antidisestablishmentarianism supercalifragilisticexpialidocious",
];

/// Strings whose ids and decodes must agree between `full` and `fast`.
fn probes<M: Model>(full: &Reference<M>) -> Vec<String> {
    let mut probes: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
    let vocab = full.get_vocab_size(false) as u32;
    let step = (vocab / 1200).max(1);
    let sample: Vec<String> = (0..vocab)
        .step_by(step as usize)
        .filter_map(|id| full.decode(&[id], false).ok())
        .collect();
    for (i, chunk) in sample.chunks(150).enumerate() {
        probes.push(chunk.join(if i % 2 == 0 { "" } else { " " }));
    }
    let mut added: Vec<_> = full.get_added_tokens_decoder().into_iter().collect();
    added.sort_by_key(|(id, _)| *id);
    let added: Vec<String> = added.into_iter().map(|(_, t)| t.content).collect();
    probes.push(format!("x{}y z", added.join(" a ")));
    probes
}

/// Ok when `fast` matches `full` on sizes, added tokens, and every probe's ids and decode.
pub fn check<M: Model>(full: &Reference<M>, fast: &FastImpl) -> Result<(), String> {
    if full.get_vocab_size(true) != fast.get_vocab_size(true) {
        return Err("vocabulary sizes differ".into());
    }
    if full.get_added_tokens_decoder() != fast.get_added_tokens_decoder() {
        return Err("added tokens differ".into());
    }
    let mut all_ids = Vec::new();
    for (i, text) in probes(full).iter().enumerate() {
        let want = full
            .encode_fast(text.as_str(), true)
            .map(|e| e.get_ids().to_vec());
        let got = fast
            .encode_fast(text.as_str(), true)
            .map(|e| e.get_ids().to_vec());
        match (want, got) {
            (Ok(want), Ok(got)) if want == got => all_ids.extend(want),
            (Err(_), Err(_)) => {}
            _ => return Err(format!("probe {i} encodes differently")),
        }
    }
    let decode_agrees = |ids: &[u32]| {
        full.decode(ids, false).ok() == fast.decode(ids, false).ok()
            && full.decode(ids, true).ok() == fast.decode(ids, true).ok()
    };
    let size = full.get_vocab_size(true) as u32;
    let strided: Vec<u32> = (0..size + 2).step_by(97).collect();
    if !decode_agrees(&all_ids) || !decode_agrees(&strided) {
        return Err("decoding differs".into());
    }
    Ok(())
}
