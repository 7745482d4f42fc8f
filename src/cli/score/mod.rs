//! `tinkex score`: log P(continuation | context), multiple choice, a whole text's per-token
//! logprobs, or a batch of them; one scoring request per continuation.

mod args;
mod batch;
mod compute;
mod inputs;
mod lines;
mod output;

use std::time::Instant;

pub use args::{usage, Continuations, ScoreConfig, Target, MAX_CHOICES};

use self::compute::{score_all, score_whole, Scored};
use self::inputs::ScoringIds;
use self::output::Report;
use crate::cli::logging::STATUS_TARGET;
use crate::cli::output::deliver;
use crate::cli::output::TextDecoder;
use crate::cli::prepare::{self, client_config, create_sampler, Early};
use crate::cli::tokenize::TokenizerLoader;
use crate::client::{FinishReason, SamplingClient, ServiceClient};
use crate::error::Result;
use crate::tokenizer::Tokenizer;
use crate::Deadline;

/// Runs `tinkex score` from a validated config.
pub fn execute(config: &ScoreConfig) -> Result<()> {
    match config.target {
        Target::Batch => batch::execute(config),
        Target::Pair { .. } | Target::Whole => single(config),
    }
}

/// The inputs before the session exists: encoded already (the flags name the tokenizer), or
/// waiting for the server to name the model (`--model-path` alone, or chat mode without
/// `--base-model`).
enum Stage {
    Encoded((ScoringIds, Tokenizer)),
    Waiting(Early),
}

fn single(config: &ScoreConfig) -> Result<()> {
    let run = &config.run;
    let started = Instant::now();
    let deadline = Deadline::starting_at(started, run.timeout);
    let (context, rest) = inputs::load(config, &deadline)?;
    // Credentials are checked first: they need no network and fail the most runs.
    let client_config = client_config(run, deadline)?;
    let loader = TokenizerLoader::new(run, &client_config);
    // The context is prepared as `run` prepares a prompt; with the model known, every input
    // error comes before the first request.
    let stage = match prepare::early(run, context, &loader, &deadline)? {
        Early::Ready(ready) => Stage::Encoded(inputs::finish(config, &rest, ready, &deadline)?),
        waiting => Stage::Waiting(waiting),
    };
    let service = ServiceClient::new(client_config)?;
    let result = (|| {
        let sampler = create_sampler(&service, run)?;
        let (encoded, tokenizer) = match stage {
            Stage::Encoded(done) => done,
            Stage::Waiting(early) => {
                let ready = prepare::late(early, run, &loader, &sampler, &deadline)?;
                inputs::finish(config, &rest, ready, &deadline)?
            }
        };
        let results = score(config, &sampler, &encoded)?;
        let report = Report {
            model: run.model_label(),
            context_tokens: encoded.context.len(),
            chat: encoded.chat.clone(),
            results: &results,
            choices: matches!(config.target, Target::Pair { choices: true, .. }),
        };
        write(config, &report, &tokenizer)?;
        let count = results.len();
        let plural = if count == 1 { "" } else { "s" };
        log::info!(target: STATUS_TARGET, "done: {count} continuation{plural} scored in {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    })();
    service.finish(if result.is_ok() {
        FinishReason::Success
    } else {
        FinishReason::Errored
    });
    result
}

fn score(
    config: &ScoreConfig,
    sampler: &SamplingClient,
    encoded: &ScoringIds,
) -> Result<Vec<Scored>> {
    let count = encoded.continuations.len();
    let plural = if count == 1 { "" } else { "s" };
    log::info!(target: STATUS_TARGET, "scoring {count} continuation{plural} with {}…", config.run.model_label());
    let logprobs = match config.target {
        Target::Whole => {
            let all = [&encoded.context[..], &encoded.continuations[0].1[..]].concat();
            vec![score_whole(sampler, &all, None)?]
        }
        _ => {
            let ids: Vec<Vec<u32>> = encoded
                .continuations
                .iter()
                .map(|(_, ids)| ids.clone())
                .collect();
            score_all(sampler, &encoded.context, &ids, None)?
        }
    };
    Ok(encoded
        .continuations
        .iter()
        .zip(logprobs)
        .map(|((text, ids), logprobs)| Scored {
            continuation: text.clone(),
            tokens: ids.clone(),
            logprobs,
        })
        .collect())
}

fn write(config: &ScoreConfig, report: &Report, tokenizer: &Tokenizer) -> Result<()> {
    let bytes = if config.run.output.json {
        output::json_document(report)
    } else {
        let decoder = tokenizer as &dyn TextDecoder;
        output::plain(report, config.per_token, Some(decoder))?.into_bytes()
    };
    // A closed pipe (`| head`) is not an error.
    deliver(config.run.output.path.as_deref(), &bytes).map(|_| ())
}
