//! The deterministic demo model: readable text about the demo server, tokenized with a real tokenizer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokenizers::Tokenizer;

use super::proto::{SampleResult, Sequence, StopReason, TopkRow};

/// Qwen3's `<|im_end|>`: what a chat model emits when it has nothing more to say.
pub const IM_END: u32 = 151_645;

/// Token ids below this are ordinary (non-special) Qwen3 tokens; made-up top-k ids stay under it.
const ORDINARY_TOKENS: u64 = 151_643;

/// How sampling stops early, besides `max_tokens`.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Stop {
    /// No stop condition.
    #[default]
    None,
    /// Stop once the decoded text contains one of these strings.
    Strings(Vec<String>),
    /// Stop at the first of these token ids.
    Tokens(Vec<u32>),
}

/// A validated sample request.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SampleSpec {
    /// Prompt token ids.
    pub prompt: Vec<u32>,
    /// How many sequences.
    pub num_samples: u32,
    /// The length cap, if any; below 1 fails the request as a user error.
    pub max_tokens: Option<i64>,
    /// Varies the wording; absent means 0.
    pub seed: Option<i64>,
    /// Stop strings or tokens.
    pub stop: Stop,
    /// Whether to return prompt logprobs.
    pub prompt_logprobs: bool,
    /// How many top-k prompt logprobs per position (0: none).
    pub topk_prompt_logprobs: u32,
    /// How many top-k alternatives per sampled token (0: none).
    pub topk_sample_logprobs: u32,
    /// Score only the last N prompt tokens (earlier entries are none).
    pub prompt_logprobs_last_n: Option<u32>,
}

/// Loads a tokenizer once per path per process: loading the fixture takes about half a second.
pub fn load_tokenizer(path: &Path) -> Result<Arc<Tokenizer>, String> {
    static CACHE: Mutex<Vec<(PathBuf, Arc<Tokenizer>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, tok)) = cache.iter().find(|(p, _)| p == path) {
        return Ok(tok.clone());
    }
    let tok = Tokenizer::from_file(path)
        .map_err(|e| format!("cannot load tokenizer {}: {e}", path.display()))?;
    let tok = Arc::new(tok);
    cache.push((path.to_path_buf(), tok.clone()));
    Ok(tok)
}

/// Samples: `Err` is a user-category failure of the request (e.g. `max_tokens` < 1).
pub fn sample(tok: &Tokenizer, spec: &SampleSpec) -> Result<SampleResult, String> {
    if let Some(m) = spec.max_tokens {
        if m < 1 {
            return Err(format!("max_tokens must be at least 1, got {m}"));
        }
    }
    let sequences = (0..spec.num_samples)
        .map(|i| sequence(tok, spec, i))
        .collect::<Result<Vec<_>, _>>()?;
    let prompt_lp = |pos: usize| prompt_logprob(spec, pos);
    // Positions before the scored suffix get none, as with `prompt_logprobs_last_n` on a real server.
    let first = spec
        .prompt_logprobs_last_n
        .map_or(1, |n| spec.prompt.len().saturating_sub(n as usize).max(1));
    let prompt_logprobs = spec.prompt_logprobs.then(|| {
        (0..spec.prompt.len())
            .map(|pos| (pos >= first).then(|| prompt_lp(pos)))
            .collect()
    });
    let topk_prompt_logprobs = (spec.topk_prompt_logprobs > 0).then(|| {
        (0..spec.prompt.len())
            .map(|pos| {
                (pos >= first)
                    .then(|| topk_row(spec, pos, prompt_lp(pos)))
                    .flatten()
            })
            .collect()
    });
    Ok(SampleResult {
        sequences,
        prompt_logprobs,
        topk_prompt_logprobs,
        prompt_cache_hit_tokens: 0,
    })
}

/// The made-up logprob of the prompt token at `pos` (> 0): it depends on the token and the
/// one before it, so different continuations of one context score differently.
pub fn prompt_logprob(spec: &SampleSpec, pos: usize) -> f32 {
    let seed = spec.seed.unwrap_or(0) as u64;
    let (token, before) = (spec.prompt[pos], spec.prompt[pos - 1]);
    fake_logprob(&[
        seed,
        0xA11CE,
        pos as u64,
        u64::from(token),
        u64::from(before),
    ])
}

/// The top-k row for one prompt position: the prompt token first, then made-up runners-up.
fn topk_row(spec: &SampleSpec, pos: usize, top_lp: f32) -> TopkRow {
    if pos == 0 {
        return None;
    }
    let seed = spec.seed.unwrap_or(0) as u64;
    Some(alternatives(
        spec.prompt[pos],
        top_lp,
        spec.topk_prompt_logprobs,
        seed ^ mix(pos as u64),
    ))
}

/// `token` with its logprob, then `k - 1` made-up runners-up (lower logprobs), hashed from `salt`.
fn alternatives(token: u32, top_lp: f32, k: u32, salt: u64) -> Vec<(u32, f32)> {
    let mut row = vec![(token, top_lp)];
    for c in 1..k {
        let h = mix(salt ^ u64::from(c));
        let lp = top_lp - c as f32 * 0.75 - (h % 64) as f32 / 128.0;
        row.push(((h % ORDINARY_TOKENS) as u32, lp));
    }
    row
}

/// The demo sentence for one sample; wording varies with the seed and the sample index.
pub fn demo_text(prompt_tokens: usize, seed: i64, index: u32, num_samples: u32) -> String {
    const OPENERS: [&str; 4] = [
        "This is tinkex's offline demo server.",
        "Hello from tinkex's offline demo server.",
        "You reached tinkex's offline demo server, and no model ran.",
        "tinkex's offline demo server answered this locally.",
    ];
    let pick = (seed as u64).wrapping_add(u64::from(index)) % OPENERS.len() as u64;
    let noun = if prompt_tokens == 1 {
        "token"
    } else {
        "tokens"
    };
    let which = if num_samples > 1 {
        format!(" This is sample {} of {num_samples}.", index + 1)
    } else {
        String::new()
    };
    format!(
        "{} Your prompt had {prompt_tokens} {noun}.{which} Set TINKER_API_KEY (or pass --api-key) to sample from a real model.",
        OPENERS[pick as usize]
    )
}

fn sequence(tok: &Tokenizer, spec: &SampleSpec, index: u32) -> Result<Sequence, String> {
    let seed = spec.seed.unwrap_or(0);
    let text = demo_text(spec.prompt.len(), seed, index, spec.num_samples);
    let mut tokens = tok
        .encode(text, false)
        .map_err(|e| format!("demo model cannot encode its text: {e}"))?
        .get_ids()
        .to_vec();
    match stop_at(tok, &tokens, &spec.stop) {
        Some(end) => tokens.truncate(end),
        // `<|im_end|>` where the tokenizer has it (Qwen3's id); a tokenizer without it (a
        // test's small one) ends with no end token rather than an id outside its vocabulary.
        None => tokens.extend(tok.token_to_id("<|im_end|>")),
    }
    let mut stop_reason = StopReason::Stop;
    if let Some(max) = spec.max_tokens {
        if tokens.len() as i64 > max {
            tokens.truncate(max as usize);
            stop_reason = StopReason::Length;
        }
    }
    let logprobs: Vec<f32> = tokens
        .iter()
        .enumerate()
        .map(|(pos, t)| fake_logprob(&[seed as u64, u64::from(index), pos as u64, u64::from(*t)]))
        .collect();
    let k = spec.topk_sample_logprobs;
    let topk_logprobs = (k > 0).then(|| {
        let salt =
            |pos: usize| mix(seed as u64 ^ 0x70CC ^ mix(u64::from(index) << 32 | pos as u64));
        (tokens.iter().zip(&logprobs).enumerate())
            .map(|(pos, (t, lp))| Some(alternatives(*t, *lp, k, salt(pos))))
            .collect()
    });
    Ok(Sequence {
        tokens,
        logprobs: Some(logprobs),
        stop_reason,
        topk_logprobs,
    })
}

/// The length to keep when a stop condition fires: the stopping token is kept, as real servers do.
fn stop_at(tok: &Tokenizer, tokens: &[u32], stop: &Stop) -> Option<usize> {
    match stop {
        Stop::None => None,
        Stop::Tokens(ids) => tokens.iter().position(|t| ids.contains(t)).map(|i| i + 1),
        Stop::Strings(strings) => (1..=tokens.len()).find(|&end| {
            let text = tok.decode(&tokens[..end], false).unwrap_or_default();
            strings
                .iter()
                .any(|s| !s.is_empty() && text.contains(s.as_str()))
        }),
    }
}

/// A made-up logprob in [-4, 0), a multiple of 1/128 so its f32 (protobuf) and f64 (JSON) forms
/// are the same number and print short.
fn fake_logprob(parts: &[u64]) -> f32 {
    let h = parts.iter().fold(0u64, |acc, p| mix(acc ^ p));
    -((1 + h % 512) as f32) / 128.0
}

/// splitmix64's finalizer: a cheap, well-spread hash.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
