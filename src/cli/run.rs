//! `tinkex run`: the steps of one sampling run, in order, each bounded by the deadline.

use std::time::Instant;

use super::chat::{self, ChatFiles, Input, Prepared};
use super::logging::STATUS_TARGET;
use super::output::{self, Outcome, TextDecoder};
use super::prompt::Prompt;
use super::settings::{Mode, PromptSource, RunConfig};
use super::sink::{self, Delivery};
use crate::client::{
    Config, ModelInput, SamplerSpec, SamplingClient, ServiceClient, StopCondition,
};
use crate::error::{Error, Result};
use crate::tokenizer::{self, HubRetry, HubSettings, Tokenizer, TokenizerOptions, TokenizerSpec};
use crate::Deadline;

impl TextDecoder for Tokenizer {
    fn decode(&self, ids: &[u32]) -> Result<String> {
        Tokenizer::decode(self, ids)
    }

    fn is_end_token(&self, id: u32) -> bool {
        self.is_special(id)
    }
}

/// Runs `tinkex run` from a validated config: one prompt, or a batch.
pub fn execute(config: &RunConfig) -> Result<()> {
    if config.print_prompt {
        let deadline = Deadline::starting_at(Instant::now(), config.timeout);
        return chat::print_prompt(config, &deadline);
    }
    match &config.mode {
        Mode::Single(source) => single(config, source.as_ref()),
        Mode::Batch(batch) => super::batch::execute(config, batch),
    }
}

fn single(config: &RunConfig, source: Option<&PromptSource>) -> Result<()> {
    let started = Instant::now();
    let deadline = Deadline::starting_at(started, config.timeout);
    let input = chat::load_input(config, source)?;
    if config.output.tokens_only && matches!(input, Input::Raw(Prompt::Text(_))) {
        return Err(Error::input(
            "--tokens-only needs a token-id prompt, but the prompt file holds text",
        ));
    }
    // Credentials are checked first: they need no network and fail the most runs.
    let client_config = client_config(config, deadline)?;
    let loader = TokenizerLoader::new(config, &client_config);
    // A tokenizer known up front is loaded, and the prompt encoded, before any session exists;
    // chat mode also needs the model's name, which --model-path alone leaves to the server.
    let chat_needs_model = config.chat.is_some() && config.base_model.is_none();
    let spec = known_tokenizer(config).filter(|_| !config.output.tokens_only);
    let mut pending = Some(input);
    let mut ready = None;
    if (spec.is_some() || config.output.tokens_only) && !chat_needs_model {
        let model = config.base_model.clone().unwrap_or_default();
        let input = pending.take().expect("input is pending");
        ready = Some(prepare_with(
            config,
            input,
            &loader,
            spec.clone(),
            &model,
            &deadline,
        )?);
    }
    let service = ServiceClient::new(client_config)?;
    let result = (|| {
        let sampler = create_sampler(&service, config)?;
        let (prepared, tokenizer) = match (ready, pending) {
            (Some(ready), _) => ready,
            (None, input) => {
                let model = sampler.base_model()?;
                let spec = spec.unwrap_or_else(|| {
                    TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(&model))
                });
                let input = input.unwrap_or(Input::Raw(Prompt::Tokens(Vec::new())));
                prepare_with(config, input, &loader, Some(spec), &model, &deadline)?
            }
        };
        let chat = prepared
            .renderer
            .map(|r| chat::chat_value(r, prepared.stop.as_ref()));
        let mut config = config.clone();
        config.params.stop = prepared.stop;
        let tokenizer = tokenizer.as_ref();
        let prompt = PreparedPrompt {
            tokens: prepared.tokens,
            chat,
        };
        sample_and_write(&config, &sampler, prompt, tokenizer, started)
    })();
    service.finish(result.is_ok());
    result
}

/// Loads the tokenizer `spec` names (none: the prompt is ids) and encodes `input` with it.
fn prepare_with(
    config: &RunConfig,
    input: Input,
    loader: &TokenizerLoader,
    spec: Option<TokenizerSpec>,
    model: &str,
    deadline: &Deadline,
) -> Result<(Prepared, Option<Tokenizer>)> {
    let tokenizer = spec
        .as_ref()
        .map(|s| loader.load(s, deadline))
        .transpose()?;
    let spec = spec.unwrap_or(TokenizerSpec::Repo(String::new()));
    let files = ChatFiles {
        loader,
        spec: &spec,
        deadline,
    };
    let prepared = chat::prepare(config, input, tokenizer.as_ref(), model, &files)?;
    Ok((prepared, tokenizer))
}

/// The client configuration: flags over environment, the key checked before any request.
pub fn client_config(config: &RunConfig, deadline: Deadline) -> Result<Config> {
    Config::from_env(
        config.api_key.clone(),
        config.base_url.clone(),
        deadline,
        config.http_pool,
    )
}

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
            TokenizerOptions::from_env()
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

    /// The tokenizer of the sampler's base model, asked of the server (`--model-path` alone).
    pub fn for_sampler(&self, sampler: &SamplingClient, deadline: &Deadline) -> Result<Tokenizer> {
        let base_model = sampler.base_model()?;
        self.load(
            &TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(&base_model)),
            deadline,
        )
    }
}

/// Creates the sampling session for the configured model.
pub fn create_sampler(service: &ServiceClient, config: &RunConfig) -> Result<SamplingClient> {
    service.create_sampling_client(SamplerSpec {
        base_model: config.base_model.clone(),
        model_path: config.model_path.clone(),
    })
}

/// The tokenizer named by `--tokenizer` or implied by `--base-model`, if either is given.
pub fn known_tokenizer(config: &RunConfig) -> Option<TokenizerSpec> {
    match (&config.tokenizer, &config.base_model) {
        (Some(arg), _) => Some(TokenizerSpec::parse(arg)),
        (None, Some(model)) => Some(TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(
            model,
        ))),
        (None, None) => None,
    }
}

/// Token ids for a prompt; ids given directly must fit the tokenizer's vocabulary.
pub fn encode_prompt(prompt: Prompt, tokenizer: Option<&Tokenizer>) -> Result<Vec<u32>> {
    match (prompt, tokenizer) {
        (Prompt::Text(text), Some(tokenizer)) => tokenizer.encode(&text),
        (Prompt::Text(_), None) => Err(Error::input("a text prompt needs a tokenizer")),
        (Prompt::Tokens(tokens), Some(tokenizer)) => {
            let vocab = tokenizer.vocab_size();
            match tokens.iter().position(|&id| id as usize >= vocab) {
                Some(index) => Err(Error::input(format!(
                    "prompt token {} at position {index} is outside the vocabulary of {} (size {vocab})",
                    tokens[index],
                    tokenizer.id()
                ))),
                None => Ok(tokens),
            }
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

/// The encoded prompt, and in chat mode the `"chat"` entry of JSON output.
struct PreparedPrompt {
    tokens: Vec<u32>,
    chat: Option<serde_json::Value>,
}

fn sample_and_write(
    config: &RunConfig,
    sampler: &SamplingClient,
    PreparedPrompt { tokens, chat }: PreparedPrompt,
    tokenizer: Option<&Tokenizer>,
    started: Instant,
) -> Result<()> {
    if tokens.is_empty() {
        return Err(Error::input("the prompt encodes to no tokens"));
    }
    let prompt_tokens = tokens.len();
    let plural = if config.num_samples == 1 { "" } else { "s" };
    log::info!(target: STATUS_TARGET, "sampling {} sequence{plural} from {}…", config.num_samples, config.model_label());
    let future = sampler.sample_with_prompt_logprobs(
        ModelInput::from_tokens(tokens),
        config.num_samples,
        config.params.clone(),
        config.prompt_logprobs,
        config.topk_prompt_logprobs,
    )?;
    let response = {
        let _ticker = super::live::Ticker::start("tinkex: waiting for the result…".into());
        future.wait(None)?
    };
    let stop_tokens = stop_token_ids(&config.params.stop);
    let outcome = Outcome {
        model: config.model_label(),
        prompt_tokens,
        response: &response,
        stop_tokens: &stop_tokens,
        chat,
    };
    let bytes = output::render(
        &outcome,
        &config.output,
        tokenizer.map(|t| t as &dyn TextDecoder),
    )?;
    match &config.output.path {
        Some(path) => sink::to_file_atomically(path, &bytes)?,
        None => {
            if sink::to_stdout(&bytes)? == Delivery::BrokenPipe {
                return Ok(());
            }
        }
    }
    let count = response.sequences.len();
    let plural = if count == 1 { "" } else { "s" };
    log::info!(target: STATUS_TARGET, "done: {count} sequence{plural} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
