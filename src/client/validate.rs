//! The one check every decoded sample result passes, JSON and protobuf alike: a result
//! that breaks the protocol's rules is the server's error (exit 4), named, never output.

use crate::client::types::{SampleResponse, TopkRow};

/// The largest logprob accepted. A logprob is ≤ 0; float rounding on the server can make
/// a certain token's come out a hair above zero, so up to this much is let through.
pub const LOGPROB_TOLERANCE: f32 = 1e-3;

/// What the request asked for, which bounds what its result may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked {
    /// Samples asked for: more sequences than this are refused.
    pub num_samples: u32,
    /// The prompt's token count: per-prompt-token rows beyond it are refused.
    pub prompt_len: usize,
    /// K of the prompt's top-k rows (0: not asked, width unchecked).
    pub topk_prompt: u32,
    /// K of each sampled token's top-k rows (0: not asked, width unchecked).
    pub topk_sample: u32,
}

impl Asked {
    /// Nothing known about the request (a body decoded on its own): only the rules that hold
    /// for every result are checked.
    pub(crate) fn unknown() -> Asked {
        Asked {
            num_samples: u32::MAX,
            prompt_len: usize::MAX,
            topk_prompt: 0,
            topk_sample: 0,
        }
    }
}

/// Checks `response` against the protocol's rules and `asked`; the error says what is wrong.
pub(crate) fn check(response: &SampleResponse, asked: &Asked) -> Result<(), String> {
    let sequences = response.sequences.len();
    if sequences as u64 > u64::from(asked.num_samples) {
        return Err(format!(
            "{sequences} sequences for {} sample(s) asked for",
            asked.num_samples
        ));
    }
    for (i, seq) in response.sequences.iter().enumerate() {
        let tokens = seq.tokens.len();
        if let Some(lps) = &seq.logprobs {
            if lps.len() > tokens {
                return Err(format!(
                    "sequence {i} has {} logprobs for {tokens} tokens",
                    lps.len()
                ));
            }
            logprobs(lps.iter().copied(), &format!("sequence {i}'s logprobs"))?;
        }
        if let Some(rows) = &seq.topk_logprobs {
            let what = format!("sequence {i}'s topk_logprobs");
            topk(rows, tokens, asked.topk_sample, &what)?;
        }
    }
    if let Some(lps) = &response.prompt_logprobs {
        if lps.len() > asked.prompt_len {
            return Err(format!(
                "prompt_logprobs has {} rows for a prompt of {} tokens",
                lps.len(),
                asked.prompt_len
            ));
        }
        logprobs(lps.iter().flatten().copied(), "prompt_logprobs")?;
    }
    if let Some(rows) = &response.topk_prompt_logprobs {
        topk(
            rows,
            asked.prompt_len,
            asked.topk_prompt,
            "topk_prompt_logprobs",
        )?;
    }
    Ok(())
}

/// Every value finite and at most [`LOGPROB_TOLERANCE`].
fn logprobs(values: impl Iterator<Item = f32>, what: &str) -> Result<(), String> {
    for (i, lp) in values.enumerate() {
        if !lp.is_finite() || lp > LOGPROB_TOLERANCE {
            return Err(format!(
                "{what}[{i}] is {lp}, not a logprob (a finite number ≤ 0)"
            ));
        }
    }
    Ok(())
}

/// At most `max_rows` rows, each at most `k` wide (when `k` > 0), ids not negative.
fn topk(rows: &[Option<TopkRow>], max_rows: usize, k: u32, what: &str) -> Result<(), String> {
    if rows.len() > max_rows {
        return Err(format!(
            "{what} has {} rows for {max_rows} tokens",
            rows.len()
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        let Some(row) = row else { continue };
        if k > 0 && row.len() as u64 > u64::from(k) {
            return Err(format!(
                "{what} row {i} has {} alternatives for top-k of {k}",
                row.len()
            ));
        }
        // The protobuf form carries signed ids; a negative one reads as ≥ 2³¹.
        if let Some((id, _)) = row.iter().find(|(id, _)| *id > i32::MAX as u32) {
            let shown = *id as i32;
            return Err(format!("{what} row {i} has the negative token id {shown}"));
        }
        logprobs(row.iter().map(|(_, lp)| *lp), &format!("{what} row {i}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::types::{SampledSequence, StopReason};

    fn seq(tokens: Vec<u32>, lps: Vec<f32>) -> SampledSequence {
        SampledSequence {
            stop_reason: StopReason::Length,
            tokens,
            logprobs: Some(lps),
            topk_logprobs: None,
        }
    }

    fn response(sequences: Vec<SampledSequence>) -> SampleResponse {
        SampleResponse {
            sequences,
            prompt_logprobs: None,
            topk_prompt_logprobs: None,
            prompt_cache_hit_tokens: 0,
        }
    }

    fn asked() -> Asked {
        Asked {
            num_samples: 1,
            prompt_len: 2,
            topk_prompt: 2,
            topk_sample: 2,
        }
    }

    #[test]
    fn hostile_numbers_are_named() {
        let fails = |r: SampleResponse, expected: &str| {
            let err = check(&r, &asked()).unwrap_err();
            assert!(err.contains(expected), "{err}");
        };
        assert!(check(&response(vec![seq(vec![1], vec![-0.5])]), &asked()).is_ok());
        assert!(check(&response(vec![seq(vec![1], vec![0.0005])]), &asked()).is_ok());
        fails(response(vec![seq(vec![1], vec![f32::NAN])]), "is NaN");
        fails(response(vec![seq(vec![1], vec![f32::INFINITY])]), "is inf");
        fails(
            response(vec![seq(vec![1], vec![f32::NEG_INFINITY])]),
            "is -inf",
        );
        fails(response(vec![seq(vec![1], vec![1e38])]), "not a logprob");
        fails(response(vec![seq(vec![1], vec![0.5])]), "is 0.5");
        fails(
            response(vec![seq(vec![1], vec![-1.0, -1.0])]),
            "2 logprobs for 1 tokens",
        );
        let two = vec![seq(vec![1], vec![-1.0]), seq(vec![2], vec![-1.0])];
        fails(response(two), "2 sequences for 1 sample(s)");
        let mut wide = response(vec![seq(vec![1], vec![-1.0])]);
        wide.sequences[0].topk_logprobs = Some(vec![Some(vec![(1, -1.0); 3])]);
        fails(wide, "3 alternatives for top-k of 2");
        let mut long = response(vec![seq(vec![1], vec![-1.0])]);
        long.sequences[0].topk_logprobs = Some(vec![None, None]);
        fails(long, "2 rows for 1 tokens");
        let mut negative = response(vec![]);
        negative.topk_prompt_logprobs = Some(vec![None, Some(vec![(u32::MAX, -1.0)])]);
        fails(negative, "negative token id -1");
        let mut prompt = response(vec![]);
        prompt.prompt_logprobs = Some(vec![None, Some(f32::INFINITY)]);
        fails(prompt, "prompt_logprobs[0] is inf");
    }
}
