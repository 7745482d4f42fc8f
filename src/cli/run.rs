//! `tinkex run` with one prompt: the steps of one sampling run, in order, each bounded by the
//! deadline.

use std::time::Instant;

use super::chat::{self, Input};
use super::encode::{stop_token_ids, TokenizerLoader};
use super::logging::STATUS_TARGET;
use super::output::{self, Outcome, TextDecoder};
use super::prepare::{self, client_config, create_sampler, Ready};
use super::prompt::{Prompt, PromptSource};
use super::settings::RunConfig;
use super::sink::Delivery;
use crate::client::{FinishReason, ModelInput, SamplingClient, ServiceClient};
use crate::error::{Error, Result};
use crate::Deadline;

/// Samples one prompt (`source`; none when chat mode reads only `--messages`) and writes the
/// result.
pub fn execute(config: &RunConfig, source: Option<&PromptSource>) -> Result<()> {
    let started = Instant::now();
    let deadline = Deadline::starting_at(started, config.timeout);
    let input = chat::load_input(config, source, &deadline)?;
    check_tokens_only(config, &input)?;
    if let Some(path) = config.output.path.as_deref() {
        super::sink::check_writable(path)?;
    }
    // Credentials are checked first: they need no network and fail the most runs.
    let client_config = client_config(config, deadline)?;
    let loader = TokenizerLoader::new(config, &client_config);
    let early = prepare::early(config, input, &loader, &deadline)?;
    let service = ServiceClient::new(client_config)?;
    let result = (|| {
        let sampler = create_sampler(&service, config)?;
        let ready = prepare::with_sampler(early, config, &loader, &sampler, &deadline)?;
        sample_and_write(config, &sampler, ready, started)
    })();
    service.finish(if result.is_ok() {
        FinishReason::Success
    } else {
        FinishReason::Errored
    });
    result
}

/// `--tokens-only` decodes nothing, so the prompt must already be ids.
fn check_tokens_only(config: &RunConfig, input: &Input) -> Result<()> {
    if config.output.tokens_only && matches!(input, Input::Raw(Prompt::Text(_))) {
        return Err(Error::input(
            "--tokens-only needs a token-id prompt, but the prompt file holds text",
        ));
    }
    Ok(())
}

fn sample_and_write(
    config: &RunConfig,
    sampler: &SamplingClient,
    Ready { prompt, tokenizer }: Ready,
    started: Instant,
) -> Result<()> {
    if prompt.tokens.is_empty() {
        return Err(Error::input("the prompt encodes to no tokens"));
    }
    let prompt_tokens = prompt.tokens.len();
    let plural = if config.num_samples == 1 { "" } else { "s" };
    log::info!(target: STATUS_TARGET, "sampling {} sequence{plural} from {}…", config.num_samples, config.model_label());
    let mut params = config.params.clone();
    params.stop = prompt.stop;
    let stop_tokens = stop_token_ids(&params.stop);
    let future = sampler.sample_with(
        ModelInput::from_tokens(prompt.tokens),
        config.num_samples,
        params,
        config.extras(config.topk_logprobs),
    )?;
    let response = {
        let _ticker = super::live::Ticker::start("tinkex: waiting for the result…".into());
        future.wait(None)?
    };
    output::warn_missing_extras(
        &response,
        output::AskedExtras {
            topk_logprobs: config.topk_logprobs,
            prompt_logprobs: config.prompt_logprobs,
            topk_prompt: config.topk_prompt_logprobs,
        },
    );
    let outcome = Outcome {
        model: config.model_label(),
        prompt_tokens,
        response: &response,
        stop_tokens: &stop_tokens,
        chat: prompt.chat,
    };
    let decoder = tokenizer.as_ref().map(|t| t as &dyn TextDecoder);
    let bytes = output::render(&outcome, &config.output, decoder)?;
    if output::deliver(config.output.path.as_deref(), &bytes)? == Delivery::BrokenPipe {
        return Ok(());
    }
    let count = response.sequences.len();
    let plural = if count == 1 { "" } else { "s" };
    log::info!(target: STATUS_TARGET, "done: {count} sequence{plural} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
