//! `tinkex run` with one prompt: the steps of one sampling run, in order, each bounded by the
//! deadline.

use std::time::Instant;

use super::conversation;
use super::logging::STATUS_TARGET;
use super::output::{self, Outcome, TextDecoder};
use super::prepare::{self, client_config, create_sampler, Ready};
use super::prompt::{Input, Prompt, PromptSource};
use super::settings::RunConfig;
use super::signals;
use super::sink::Delivery;
use super::tokenize::{stop_token_ids, TokenizerLoader};
use crate::client::{FinishReason, SamplingClient, ServiceClient};
use crate::error::{Error, Result};
use crate::Deadline;

/// Samples one prompt (`source`; none when chat mode reads only `--messages`) and writes the
/// result.
pub fn execute(config: &RunConfig, source: Option<&PromptSource>) -> Result<()> {
    let started = Instant::now();
    let deadline = Deadline::starting_at(started, config.timeout);
    let input = conversation::load_input(config, source, &deadline)?;
    check_tokens_only(config, &input)?;
    if let Some(path) = config.output.path.as_deref() {
        super::sink::check_writable(path)?;
    }
    // Credentials are checked first: they need no network and fail the most runs.
    let client_config = client_config(config, deadline)?;
    let loader = TokenizerLoader::new(config, &client_config);
    let early = prepare::early(config, input, &loader, &deadline)?;
    let service = ServiceClient::new(client_config)?;
    let result = until_signal(&service, || {
        let sampler = create_sampler(&service, config)?;
        let ready = prepare::late(early, config, &loader, &sampler, &deadline)?;
        sample_and_write(config, &sampler, ready, started)
    });
    service.finish(if result.is_ok() {
        FinishReason::Success
    } else {
        FinishReason::Errored
    });
    result
}

/// Runs `work` while a watcher waits for a signal: then the session is finished as
/// `interrupted` (cancelling the pending request where the server allows) and the process
/// exits 128 + the signal, instead of leaving the server's work running.
fn until_signal<T>(service: &ServiceClient, work: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::sync::atomic::{AtomicBool, Ordering};
    const POLL: std::time::Duration = std::time::Duration::from_millis(20);
    let interrupted = |signal: i32| -> ! {
        service.finish(FinishReason::Interrupted);
        std::process::exit(128 + signal)
    };
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        let watcher = std::thread::Builder::new()
            .name("tinkex-signal".into())
            .spawn_scoped(scope, || {
                while !done.load(Ordering::SeqCst) {
                    if let Some(signal) = signals::received() {
                        interrupted(signal);
                    }
                    std::thread::sleep(POLL);
                }
            });
        // Without a watcher the handler keeps exiting at once, as before.
        signals::defer_exit(watcher.is_ok());
        let result = work();
        done.store(true, Ordering::SeqCst);
        result
    });
    signals::defer_exit(false);
    if let Some(signal) = signals::received() {
        interrupted(signal);
    }
    result
}

/// `--tokens-only` decodes nothing, so the prompt must already be ids.
fn check_tokens_only(config: &RunConfig, input: &Input) -> Result<()> {
    if config.output.tokens_only && matches!(input, Input::Prompt(Prompt::Text(_))) {
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
    if prompt.input.is_empty() {
        return Err(Error::input("the prompt encodes to no tokens"));
    }
    // Image tokens count: they take places in the model's context like text tokens.
    let prompt_tokens = prompt.input.len();
    let plural = if config.num_samples == 1 { "" } else { "s" };
    log::info!(target: STATUS_TARGET, "sampling {} sequence{plural} from {}…", config.num_samples, config.model_label());
    let mut params = config.params.clone();
    params.stop = prompt.stop;
    let stop_tokens = stop_token_ids(&params.stop);
    let future = sampler.sample_with(
        prompt.input,
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
    // A signal's watcher is finishing the session and exiting: write nothing after it.
    if let Some(signal) = signals::received() {
        return Err(Error::Interrupted {
            exit_code: 128 + signal,
        });
    }
    if output::deliver(config.output.path.as_deref(), &bytes)? == Delivery::BrokenPipe {
        return Ok(());
    }
    let count = response.sequences.len();
    let plural = if count == 1 { "" } else { "s" };
    log::info!(target: STATUS_TARGET, "done: {count} sequence{plural} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
