//! The public data types of a sampling call: the prompt, the parameters and the result.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::status;
use crate::error::{Error, Result};

/// A prompt as token ids (the only chunk type tinkex sends: `encoded_text`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelInput {
    tokens: Vec<u32>,
}

impl ModelInput {
    /// A prompt made of these token ids.
    pub fn from_tokens(tokens: Vec<u32>) -> Self {
        ModelInput { tokens }
    }

    /// The prompt's token ids.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The number of tokens in the prompt.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the prompt has no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// When generation should stop, besides `max_tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopCondition {
    /// Stop when any of these strings is generated.
    Strings(Vec<String>),
    /// Stop when any of these token ids is generated.
    Tokens(Vec<u32>),
}

/// How to sample; the defaults are the server's (temperature 1, no top-k, top-p 1).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    /// Most tokens to generate per sample; `None` lets the server decide.
    pub max_tokens: Option<u32>,
    /// Seed for reproducible sampling.
    pub seed: Option<i64>,
    /// Extra stop condition.
    pub stop: Option<StopCondition>,
    /// Sampling temperature (1.0 by default).
    pub temperature: f64,
    /// Top-k cut-off; -1 turns it off (the default).
    pub top_k: i64,
    /// Nucleus cut-off (1.0 by default, i.e. off).
    pub top_p: f64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            max_tokens: None,
            seed: None,
            stop: None,
            temperature: 1.0,
            top_k: -1,
            top_p: 1.0,
        }
    }
}

/// The top-k `(token, logprob)` pairs of one prompt token, best first.
pub type TopkRow = Vec<(u32, f32)>;

/// Why a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopReason {
    /// A stop condition or end-of-sequence token was hit.
    Stop,
    /// `max_tokens` was reached.
    Length,
}

/// One generated sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampledSequence {
    /// Why generation ended.
    pub stop_reason: StopReason,
    /// The generated token ids.
    pub tokens: Vec<u32>,
    /// The log-probability of each generated token, when the server sent them.
    pub logprobs: Option<Vec<f32>>,
}

/// The result of one sampling request, whatever form the server answered in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleResponse {
    /// One entry per requested sample.
    pub sequences: Vec<SampledSequence>,
    /// One entry per prompt token (the first has none), when asked for.
    pub prompt_logprobs: Option<Vec<Option<f32>>>,
    /// Per prompt token, the top-k `(token, logprob)` pairs, when asked for.
    pub topk_prompt_logprobs: Option<Vec<Option<TopkRow>>>,
    /// How many prompt tokens the server found in its cache.
    pub prompt_cache_hit_tokens: u32,
}

impl SampleResponse {
    /// Shifts per-prompt-token lists that are one shorter than the prompt so
    /// they end with the prompt (some servers leave out the first token's none).
    pub(crate) fn align_to_prompt(&mut self, prompt_len: usize) {
        if let Some(list) = &mut self.prompt_logprobs {
            if list.len() + 1 == prompt_len {
                list.insert(0, None);
            }
        }
        if let Some(list) = &mut self.topk_prompt_logprobs {
            if list.len() + 1 == prompt_len {
                list.insert(0, None);
            }
        }
    }
}

/// Which weights a sampling client uses: a base model, a `tinker://` checkpoint, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SamplerSpec {
    /// A base model name, e.g. `Qwen/Qwen3-8B`.
    pub base_model: Option<String>,
    /// A `tinker://…` checkpoint path.
    pub model_path: Option<String>,
}

impl SamplerSpec {
    /// Sample from a base model.
    pub fn base_model(name: impl Into<String>) -> Self {
        SamplerSpec {
            base_model: Some(name.into()),
            model_path: None,
        }
    }

    /// Sample from a `tinker://` checkpoint.
    pub fn model_path(path: impl Into<String>) -> Self {
        SamplerSpec {
            base_model: None,
            model_path: Some(path.into()),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(path) = &self.model_path {
            if !path.starts_with("tinker://") {
                return Err(Error::Input {
                    message: format!("invalid model path '{path}': it must start with tinker://"),
                    hint: Some(
                        "give a checkpoint path such as tinker://<run>/sampler_weights/<name>"
                            .into(),
                    ),
                });
            }
        }
        if self.base_model.is_none() && self.model_path.is_none() {
            return Err(Error::input(
                "no model given: pass a base model or a tinker:// model path",
            ));
        }
        Ok(())
    }
}

/// Compact JSON of a request body (serialising our own structs cannot fail).
pub(crate) fn to_json<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}

/// A required string field of a JSON answer.
pub(crate) fn string_field(answer: &Value, key: &str, step: &str) -> Result<String> {
    answer
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| status::bad_answer(step, &format!("no \"{key}\" field"), None))
}
