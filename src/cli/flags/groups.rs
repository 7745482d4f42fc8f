//! The shared flag groups as plain values (what `command_args!`'s accessors return), and the
//! checks that need nothing outside their own group, written once for every command.

use std::path::PathBuf;
use std::time::Duration;

use super::values::{
    Concurrency, MaxTokens, Positive, ShardSpec, Temperature, TimeoutSecs, TokenId, TopK, TopP,
};
use crate::client::{SamplingParams, StopCondition};
use crate::error::{Error, Result};

/// The default `--max-tokens`: some servers require one, and an unbounded sample costs money.
pub const DEFAULT_MAX_TOKENS: u32 = 128;
/// The default `--timeout`, so a cron job can never hang.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// `--base-model`, `--model-path`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelFlags {
    pub base_model: Option<String>,
    pub model_path: Option<String>,
}

/// `--prompt`, `--prompt-file`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptFlags {
    pub prompt: Option<String>,
    pub prompt_file: Option<String>,
}

/// `--tokenizer`, `--offline`, `--no-tokenizer-cache`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerFlags {
    pub tokenizer: Option<String>,
    pub offline: bool,
    pub no_tokenizer_cache: bool,
}

/// The sampling flags: what the server draws and what it returns besides the samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplingFlags {
    pub max_tokens: Option<MaxTokens>,
    pub temperature: Option<Temperature>,
    pub top_k: Option<TopK>,
    pub top_p: Option<TopP>,
    pub num_samples: Option<Positive>,
    pub seed: Option<i64>,
    pub stop: Vec<String>,
    pub stop_token: Vec<TokenId>,
    pub prompt_logprobs: bool,
    pub topk_prompt_logprobs: Option<u32>,
    pub topk_logprobs: Option<Positive>,
}

/// The batch-mode flags (`--input` and what only a batch takes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchFlags {
    pub input: Option<String>,
    pub parallel: Option<Concurrency>,
    pub resume: bool,
    pub shard: Option<ShardSpec>,
    pub fail_fast: bool,
    pub progress: bool,
    pub batch_timeout: Option<TimeoutSecs>,
}

/// The chat-mode flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatFlags {
    pub chat: bool,
    pub system: Option<String>,
    pub messages: Option<String>,
    pub chat_template: Option<PathBuf>,
    pub template_arg: Vec<String>,
    pub think: bool,
    pub no_think: bool,
    pub renderer: Option<String>,
}

/// `--api-key`, `--base-url`, `--timeout`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionFlags {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub timeout: Option<TimeoutSecs>,
}

/// `--http-pool`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolFlags {
    pub http_pool: Option<Concurrency>,
}

/// `--json`, `--output`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputFlags {
    pub json: bool,
    pub output: Option<PathBuf>,
}

/// `run`'s rendering switches: `--print-prompt`, `--logprobs`, `--tokens-only`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderFlags {
    pub print_prompt: bool,
    pub logprobs: bool,
    pub tokens_only: bool,
}

/// `-q`, `-v…`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerbosityFlags {
    pub quiet: bool,
    pub verbose: u8,
}

/// How much goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Warnings, errors and status lines.
    Normal,
    /// `-v` (1), `-vv` (2), `-vvv` (3).
    Verbose(u8),
}

/// The connection flags, checked: the environment is consulted later, by the client layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// `--api-key`.
    pub api_key: Option<String>,
    /// `--base-url`.
    pub base_url: Option<String>,
    /// `--timeout`, else [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
}

impl VerbosityFlags {
    /// The one verbosity rule of every command: `-q` or `-v…`, not both.
    pub fn validate(&self) -> Result<Verbosity> {
        match (self.quiet, self.verbose) {
            (true, 0) => Ok(Verbosity::Quiet),
            (true, _) => Err(Error::usage("give either --quiet or --verbose, not both")),
            (false, 0) => Ok(Verbosity::Normal),
            (false, n) => Ok(Verbosity::Verbose(n)),
        }
    }
}

impl ConnectionFlags {
    /// The connection settings, the timeout defaulted.
    pub fn validate(&self) -> Result<Connection> {
        Ok(Connection {
            api_key: self.api_key.clone(),
            base_url: self.base_url.clone(),
            timeout: self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
        })
    }
}

impl ModelFlags {
    /// A model is named, by `--base-model` or a `tinker://` `--model-path`.
    pub fn validate(&self) -> Result<()> {
        if self.base_model.is_none() && self.model_path.is_none() {
            return Err(Error::usage(
                "no model given: pass --base-model NAME or --model-path tinker://…",
            ));
        }
        if let Some(path) = &self.model_path {
            if !path.starts_with("tinker://") {
                return Err(Error::usage(format!(
                    "--model-path must be a tinker:// path, got '{path}'"
                )));
            }
        }
        if self
            .base_model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(Error::usage("--base-model is empty"));
        }
        Ok(())
    }
}

impl OutputFlags {
    /// `--output` names a file when given.
    pub fn validate(&self) -> Result<()> {
        if self
            .output
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(Error::usage("--output is empty"));
        }
        Ok(())
    }
}

impl SamplingFlags {
    /// The wire sampling parameters: the flags, else the defaults (`--max-tokens` 128).
    pub fn params(&self) -> Result<SamplingParams> {
        let defaults = SamplingParams::default();
        Ok(SamplingParams {
            max_tokens: Some(self.max_tokens.map_or(DEFAULT_MAX_TOKENS, |m| m.0)),
            seed: self.seed,
            stop: self.stop_condition()?,
            temperature: self.temperature.map_or(defaults.temperature, |t| t.0),
            top_k: self.top_k.map_or(defaults.top_k, |k| k.0),
            top_p: self.top_p.map_or(defaults.top_p, |p| p.0),
        })
    }

    /// `--stop` strings or `--stop-token` ids, never both, never an empty string.
    fn stop_condition(&self) -> Result<Option<StopCondition>> {
        let stop = match (self.stop.is_empty(), self.stop_token.is_empty()) {
            (false, false) => {
                return Err(Error::usage("give either --stop or --stop-token, not both"))
            }
            (false, true) => Some(StopCondition::Strings(self.stop.clone())),
            (true, false) => Some(StopCondition::Tokens(
                self.stop_token.iter().map(|t| t.0).collect(),
            )),
            (true, true) => None,
        };
        if self.stop_token.is_empty()
            && matches!(&stop, Some(StopCondition::Strings(s)) if s.iter().any(String::is_empty))
        {
            return Err(Error::usage("--stop must not be empty"));
        }
        Ok(stop)
    }
}
