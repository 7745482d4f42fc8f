//! Scoring requests and the arithmetic on their answers: one request per continuation,
//! choices in parallel, totals, means, perplexities and the choices' probabilities.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::client::{ModelInput, SampleFuture, SamplingClient};
use crate::error::{Error, Result};
use crate::Deadline;

/// Most requests one scoring keeps in flight for its choices.
pub const CHOICE_THREADS: usize = 16;

/// One continuation and the logprob of each of its tokens given everything before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The continuation as shown: the text given, or the decoded ids.
    pub continuation: String,
    /// Its token ids.
    pub tokens: Vec<u32>,
    /// One logprob per token.
    pub logprobs: Vec<f32>,
}

impl Scored {
    /// log P(continuation | context): the sum of the token logprobs.
    pub fn total(&self) -> f64 {
        self.logprobs.iter().map(|&lp| f64::from(lp)).sum()
    }

    /// The mean logprob per token.
    pub fn mean(&self) -> f64 {
        self.total() / self.logprobs.len().max(1) as f64
    }

    /// exp(−mean): how surprised the model is, per token.
    pub fn perplexity(&self) -> f64 {
        (-self.mean()).exp()
    }
}

/// The index of the highest total (ties: the first).
pub fn best(results: &[Scored]) -> usize {
    let mut best = 0;
    for (i, r) in results.iter().enumerate() {
        if r.total() > results[best].total() {
            best = i;
        }
    }
    best
}

/// Each result's share of the probability mass the results have together (a softmax of totals).
pub fn probabilities(results: &[Scored]) -> Vec<f64> {
    let totals: Vec<f64> = results.iter().map(Scored::total).collect();
    let max = totals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        // Every choice impossible (or no choices): no choice is preferred.
        return vec![1.0 / totals.len().max(1) as f64; totals.len()];
    }
    let weights: Vec<f64> = totals.iter().map(|t| (t - max).exp()).collect();
    let sum: f64 = weights.iter().sum();
    weights.iter().map(|w| w / sum).collect()
}

/// Scores `continuation` after `context` with one request that scores only its tokens.
pub fn score_one(
    sampler: &SamplingClient,
    context: &[u32],
    continuation: &[u32],
    deadline: Option<Deadline>,
) -> Result<Vec<f32>> {
    let n = continuation.len();
    let prompt = ModelInput::from_tokens([context, continuation].concat());
    let response = request(sampler, prompt, Some(n as u32), deadline)?.wait(None)?;
    crate::cli::token_totals::BATCH.add(context.len() + n, &response);
    response.last_prompt_logprobs(n).ok_or_else(|| missing(n))
}

/// Scores every token of `tokens` after the first (the SDK's `compute_logprobs(prompt)`).
pub fn score_whole(
    sampler: &SamplingClient,
    tokens: &[u32],
    deadline: Option<Deadline>,
) -> Result<Vec<f32>> {
    let n = tokens.len().saturating_sub(1);
    let prompt = ModelInput::from_tokens(tokens.to_vec());
    let response = request(sampler, prompt, None, deadline)?.wait(None)?;
    response.last_prompt_logprobs(n).ok_or_else(|| missing(n))
}

/// One scoring request, ending by `deadline` (a batch line's: every choice of the line shares
/// it, so `--timeout` is per line), else by the run's.
fn request(
    sampler: &SamplingClient,
    prompt: ModelInput,
    last_n: Option<u32>,
    deadline: Option<Deadline>,
) -> Result<SampleFuture> {
    match deadline {
        Some(deadline) => sampler.compute_logprobs_by(prompt, last_n, deadline),
        None => sampler.compute_logprobs(prompt, last_n),
    }
}

fn missing(n: usize) -> Error {
    Error::Protocol(format!(
        "the server's answer lacks a logprob for one of the last {n} prompt tokens"
    ))
}

/// Scores each continuation after `context`, at most [`CHOICE_THREADS`] at once; results in
/// input order. The first failure is returned (the others still finish their request).
pub fn score_all(
    sampler: &SamplingClient,
    context: &[u32],
    continuations: &[Vec<u32>],
    deadline: Option<Deadline>,
) -> Result<Vec<Vec<f32>>> {
    if let [only] = continuations {
        return score_one(sampler, context, only, deadline).map(|lps| vec![lps]);
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Vec<f32>>>>> =
        Mutex::new(continuations.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..continuations.len().min(CHOICE_THREADS) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(continuation) = continuations.get(i) else {
                    return;
                };
                let result = score_one(sampler, context, continuation, deadline);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::Unexpected("a choice was not scored".into()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(logprobs: &[f32]) -> Scored {
        Scored {
            continuation: String::new(),
            tokens: vec![0; logprobs.len()],
            logprobs: logprobs.to_vec(),
        }
    }

    #[test]
    fn totals_means_and_perplexity() {
        let s = scored(&[-1.0, -3.0]);
        assert_eq!(s.total(), -4.0);
        assert_eq!(s.mean(), -2.0);
        assert!((s.perplexity() - 2f64.exp()).abs() < 1e-12);
    }

    #[test]
    fn the_best_is_the_highest_total_and_the_first_on_ties() {
        let results = [scored(&[-2.0]), scored(&[-1.0, -0.5]), scored(&[-1.5])];
        assert_eq!(best(&results), 1);
        let tied = [scored(&[-1.0]), scored(&[-0.5, -0.5])];
        assert_eq!(best(&tied), 0);
    }

    #[test]
    fn probabilities_are_a_softmax_of_totals() {
        let p = probabilities(&[scored(&[-1.0]), scored(&[-1.0]), scored(&[-1000.0])]);
        assert!(
            (p[0] - 0.5).abs() < 1e-12 && (p[1] - 0.5).abs() < 1e-12,
            "{p:?}"
        );
        assert!(p[2] < 1e-300);
        let impossible =
            probabilities(&[scored(&[f32::NEG_INFINITY]), scored(&[f32::NEG_INFINITY])]);
        assert_eq!(impossible, vec![0.5, 0.5]);
    }
}
