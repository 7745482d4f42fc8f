//! The tokens a batch sent and received, added up across its workers for the summary line,
//! so a job's cost can be estimated without the billing role.
//!
//! One process runs at most one batch, so the batch's totals are a process-wide counter:
//! the per-line code adds to it and the summary reads it, without a handle threaded through
//! the batch engine.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::SampleResponse;

/// Prompt tokens sent and tokens sampled, counted over answered requests.
#[derive(Debug, Default)]
pub struct TokenTotals {
    prompt: AtomicU64,
    sampled: AtomicU64,
}

/// This process's batch.
pub static BATCH: TokenTotals = TokenTotals::new();

impl TokenTotals {
    /// Zero of each.
    pub const fn new() -> TokenTotals {
        TokenTotals {
            prompt: AtomicU64::new(0),
            sampled: AtomicU64::new(0),
        }
    }

    /// Adds one answered request: `prompt` tokens sent, and every sequence's sampled tokens.
    pub fn add(&self, prompt: usize, response: &SampleResponse) {
        let sampled: usize = response.sequences.iter().map(|s| s.tokens.len()).sum();
        self.prompt.fetch_add(prompt as u64, Ordering::Relaxed);
        self.sampled.fetch_add(sampled as u64, Ordering::Relaxed);
    }

    /// `(prompt tokens sent, sampled tokens received)` so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.prompt.load(Ordering::Relaxed),
            self.sampled.load(Ordering::Relaxed),
        )
    }

    /// The summary's words: `sent 120 prompt tokens, received 48 sampled tokens`.
    pub fn words(&self) -> String {
        let (prompt, sampled) = self.get();
        format!("sent {prompt} prompt tokens, received {sampled} sampled tokens")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{SampledSequence, StopReason};

    fn sequence(tokens: usize) -> SampledSequence {
        SampledSequence {
            stop_reason: StopReason::Length,
            tokens: vec![1; tokens],
            logprobs: None,
            topk_logprobs: None,
        }
    }

    #[test]
    fn every_request_and_sequence_is_counted() {
        let totals = TokenTotals::new();
        let response = |lens: &[usize]| SampleResponse {
            sequences: lens.iter().map(|&n| sequence(n)).collect(),
            prompt_logprobs: None,
            topk_prompt_logprobs: None,
            prompt_cache_hit_tokens: 0,
        };
        totals.add(10, &response(&[3, 4]));
        totals.add(5, &response(&[1]));
        assert_eq!(totals.get(), (15, 8));
        assert_eq!(
            totals.words(),
            "sent 15 prompt tokens, received 8 sampled tokens"
        );
    }
}
