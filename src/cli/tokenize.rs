//! Which tokenizer a run uses, loading it, and encoding raw prompts (below the chat glue:
//! single runs, batches and `--print-prompt` all start here).

use super::prompt::Prompt;
use super::settings::RunConfig;
use crate::client::{Config, SamplingClient, StopCondition};
use crate::error::{Error, Result};
use crate::tokenizer::{self, HubRetry, HubSettings, Tokenizer, TokenizerOptions, TokenizerSpec};
use crate::Deadline;

/// Loads tokenizers with the Hugging Face settings and the run's retry pacing.
pub struct TokenizerLoader {
    hub: HubSettings,
    retry: HubRetry,
    options: TokenizerOptions,
}

impl TokenizerLoader {
    /// Settings from the environment, `--offline` and `--no-tokenizer-cache` applied; hub
    /// back-off follows `TINKEX_RETRY_SCALE`.
    pub fn new(config: &RunConfig, client: &Config) -> TokenizerLoader {
        TokenizerLoader::with_scale(config, client.retry.scale())
    }

    /// [`TokenizerLoader::new`] with the back-off scale given (`--print-prompt` has no client).
    pub fn with_scale(config: &RunConfig, scale: f64) -> TokenizerLoader {
        let hub = HubSettings::from_env();
        let hub = HubSettings {
            offline: config.offline || hub.offline,
            ..hub
        };
        let defaults = HubRetry::default();
        let retry = HubRetry {
            first_backoff: defaults.first_backoff.mul_f64(scale),
            ..defaults
        };
        let options = if config.no_tokenizer_cache {
            TokenizerOptions::no_cache()
        } else {
            // A cold build's cache write runs beside the sample; main waits for it on exit.
            TokenizerOptions::from_env().deferring_writes()
        };
        TokenizerLoader {
            hub,
            retry,
            options,
        }
    }

    /// Loads the tokenizer `spec` names.
    pub fn load(&self, spec: &TokenizerSpec, deadline: &Deadline) -> Result<Tokenizer> {
        Tokenizer::load_with_options(spec, &self.hub, deadline, &self.retry, &self.options)
    }

    /// Another file of the tokenizer's repository (chat mode's config and template).
    pub fn repo_file(
        &self,
        spec: &TokenizerSpec,
        file: &str,
        deadline: &Deadline,
    ) -> Result<Option<tokenizer::RepoFile>> {
        tokenizer::repo_file(spec, file, &self.hub, deadline, &self.retry)
    }
}

/// The tokenizer named by `--tokenizer` or implied by `--base-model`, if either is given.
pub fn known_tokenizer(config: &RunConfig) -> Option<TokenizerSpec> {
    match (&config.tokenizer, &config.base_model) {
        (Some(spec), _) => Some(spec.clone()),
        (None, Some(model)) => Some(TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(
            model,
        ))),
        (None, None) => None,
    }
}

/// The model a sampler serves and the tokenizer to use with it: the flags' when they say,
/// else the base model asked of the server (`--model-path` alone) and its tokenizer.
pub fn model_and_tokenizer(
    config: &RunConfig,
    sampler: &SamplingClient,
) -> Result<(String, TokenizerSpec)> {
    let model = sampler.base_model()?;
    let spec = known_tokenizer(config)
        .unwrap_or_else(|| TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(&model)));
    Ok((model, spec))
}

/// Token ids for a prompt; ids given directly must fit the tokenizer's vocabulary. Text past
/// the prompt limit is refused before encoding starts (encoding time and memory grow with it).
pub fn encode_prompt(prompt: Prompt, tokenizer: Option<&Tokenizer>) -> Result<Vec<u32>> {
    match (prompt, tokenizer) {
        (Prompt::Text(text), Some(tokenizer)) => {
            super::prompt::check_size(&text, "the prompt")?;
            tokenizer.encode(&text)
        }
        (Prompt::Text(_), None) => Err(Error::input("a text prompt needs a tokenizer")),
        (Prompt::Tokens(tokens), Some(tokenizer)) => {
            super::prompt::check_vocab(&tokens, tokenizer, "prompt ")?;
            Ok(tokens)
        }
        (Prompt::Tokens(tokens), None) => Ok(tokens),
    }
}

/// Stop token ids that were sent, so plain output can leave them out.
pub fn stop_token_ids(stop: &Option<StopCondition>) -> Vec<u32> {
    match stop {
        Some(StopCondition::Tokens(ids)) => ids.clone(),
        _ => Vec::new(),
    }
}
