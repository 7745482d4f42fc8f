//! From a validated config to a sampler and a ready prompt, raw or chat (above the chat glue,
//! which it calls; single runs and batches share it).

use serde_json::Value;

use super::conversation::{self, ChatFiles, Prepared};
use super::prompt::Input;
use super::settings::RunConfig;
use super::tokenize::{known_tokenizer, model_and_tokenizer, TokenizerLoader};
use crate::client::{
    Config, ModelInput, SamplerSpec, SamplingClient, ServiceClient, StopCondition,
};
use crate::error::Result;
use crate::tokenizer::{Tokenizer, TokenizerSpec};
use crate::Deadline;

/// A prompt ready to sample: its ids, the stops to send and, in chat mode, the `"chat"` entry
/// of JSON output.
pub struct Encoded {
    /// The prompt: token ids, and image chunks for a vision model.
    pub input: ModelInput,
    /// The stop condition to send.
    pub stop: Option<StopCondition>,
    /// The `"chat"` entry (renderer and stops as sent), for conversations.
    pub chat: Option<Value>,
}

impl Encoded {
    /// What the chat glue prepared, sent with `stop`.
    pub fn new(prepared: Prepared, stop: Option<StopCondition>) -> Encoded {
        let chat = prepared
            .renderer
            .map(|r| conversation::chat_value(r, stop.as_ref()));
        Encoded {
            input: prepared.input,
            stop,
            chat,
        }
    }
}

/// An encoded prompt and the tokenizer that encoded it (none for `--tokens-only`).
pub struct Ready {
    /// The prompt.
    pub prompt: Encoded,
    /// The tokenizer, for decoding the samples.
    pub tokenizer: Option<Tokenizer>,
}

/// A single run's prompt before the session exists: encoded already, or waiting for the
/// server to name the model.
pub enum Early {
    /// The tokenizer (and in chat mode the model) was known from the flags.
    Ready(Ready),
    /// `--model-path` without `--tokenizer`, or chat mode without `--base-model`.
    Pending(Input),
}

/// The client configuration: flags over environment, the key checked before any request.
pub fn client_config(config: &RunConfig, deadline: Deadline) -> Result<Config> {
    let mut client = Config::from_env(
        config.api_key.clone(),
        config.base_url.clone(),
        deadline,
        config.http_pool,
    )?;
    client.session = super::session::job_meta(config);
    Ok(client)
}

/// Creates the sampling session for the configured model.
pub fn create_sampler(service: &ServiceClient, config: &RunConfig) -> Result<SamplingClient> {
    service.create_sampling_client(SamplerSpec {
        base_model: config.base_model.clone(),
        model_path: config.model_path.clone(),
    })
}

/// Encodes the prompt before any session when the flags name the tokenizer (and, in chat
/// mode, the model), so a bad prompt costs no session.
pub fn early(
    config: &RunConfig,
    input: Input,
    loader: &TokenizerLoader,
    deadline: &Deadline,
) -> Result<Early> {
    let chat_needs_model = config.chat.is_some() && config.base_model.is_none();
    let spec = known_tokenizer(config).filter(|_| !config.output.tokens_only);
    if chat_needs_model || (spec.is_none() && !config.output.tokens_only) {
        return Ok(Early::Pending(input));
    }
    let model = config.base_model.clone().unwrap_or_default();
    prepare_with(config, input, loader, spec, &model, deadline).map(Early::Ready)
}

/// Finishes what [`early`] left, once the sampler exists: the model and tokenizer asked of it.
pub fn late(
    early: Early,
    config: &RunConfig,
    loader: &TokenizerLoader,
    sampler: &SamplingClient,
    deadline: &Deadline,
) -> Result<Ready> {
    match early {
        Early::Ready(ready) => Ok(ready),
        Early::Pending(input) => {
            let (model, spec) = model_and_tokenizer(config, sampler)?;
            prepare_with(config, input, loader, Some(spec), &model, deadline)
        }
    }
}

/// Loads the tokenizer `spec` names (none: the prompt is ids) and encodes `input` with it.
fn prepare_with(
    config: &RunConfig,
    input: Input,
    loader: &TokenizerLoader,
    spec: Option<TokenizerSpec>,
    model: &str,
    deadline: &Deadline,
) -> Result<Ready> {
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
    let prepared = conversation::prepare(config, input, tokenizer.as_ref(), model, &files)?;
    let stop = prepared.stop.clone();
    Ok(Ready {
        prompt: Encoded::new(prepared, stop),
        tokenizer,
    })
}
