//! Batch mode: prompts from a JSONL file, sampled by parallel workers, written in input order.

// `tinkex score --input` runs its lines through the same machinery.
pub(crate) mod encode;
mod ids;
pub(crate) mod input;
mod interrupt;
pub(crate) mod journal;
mod merge;
pub(super) mod merge_cmd;
pub(crate) mod progress;
pub(crate) mod record;
mod reorder;
pub(crate) mod shard;
pub(crate) mod source;
mod summary;

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use self::encode::{chat_setup, Encoder};
use self::input::{BatchItem, LineDefaults};
use self::interrupt::Interrupt;
use self::journal::{Journal, Resumed};
use self::progress::Progress;
use self::shard::Shard;
use self::source::{InputFile, Scan};
use self::summary::{breakdown, failure};
pub(crate) use self::summary::{shard_prefix, summarize};
use super::chat::ChatSetup;
use super::encode::{known_tokenizer, model_and_tokenizer, TokenizerLoader};
use super::logging::STATUS_TARGET;
use super::output::{sequence_value, TextDecoder};
use super::prepare::{client_config, create_sampler};
use super::settings::{BatchOptions, RunConfig};
use crate::client::{FinishReason, ModelInput, SampleResponse, SamplingClient, ServiceClient};
use crate::error::{Category, Error, Result};
use crate::pipeline::{self, Finished, Job, PipelineOptions, Tally};
use crate::tokenizer::Tokenizer;
use crate::Deadline;

/// Without `--batch-timeout` a batch may run as long as it needs; each prompt keeps `--timeout`.
pub(crate) const UNBOUNDED: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What every worker shares.
struct Shared<'a> {
    sampler: &'a SamplingClient,
    tokenizer: Option<&'a Tokenizer>,
    encoder: Encoder<'a>,
    config: &'a RunConfig,
}

/// The input, read and validated before any request: what to sample and what is done.
struct Plan {
    input: InputFile,
    defaults: LineDefaults,
    scan: Scan,
    /// `--shard`, resolved: only its lines are sampled.
    shard: Option<Shard>,
}

/// Runs a whole batch; the error (if any) carries the most severe failed category's exit code.
pub fn execute(config: &RunConfig, batch: &BatchOptions) -> Result<()> {
    let started = Instant::now();
    let deadline = Deadline::starting_at(started, batch.batch_timeout.unwrap_or(UNBOUNDED));
    let (plan, resumed) = Plan::read(config, batch, &deadline)?;
    let mut client_config = client_config(config, deadline)?;
    // Without --batch-timeout the batch deadline is unbounded: each client step (handshake,
    // session, every line) still ends within --timeout.
    client_config.step_timeout = Some(config.timeout);
    crate::cli::session::add_shard(&mut client_config.session, plan.shard);
    let journal = Journal::open(config.output.path.as_deref(), resumed)?;
    let loader = TokenizerLoader::new(config, &client_config);
    let tokenizer = early_tokenizer(config, &loader, &deadline)?;
    let service = ServiceClient::new(client_config)?;
    let result = (|| {
        let sampler = create_sampler(&service, config)?;
        let tokenizer = with_sampler(tokenizer, config, &loader, &sampler, &deadline)?;
        let chat = match plan.scan.chat_lines {
            0 => None,
            _ => Some(chat_setup(
                config,
                &loader,
                &sampler,
                tokenizer.as_ref(),
                &deadline,
            )?),
        };
        let shared = Shared::new(config, &sampler, tokenizer.as_ref(), chat.as_ref());
        let run = BatchRun {
            batch,
            deadline,
            started,
            output: config.output.path.as_deref(),
        };
        sample_all(plan, &run, &shared, journal)
    })();
    conclude(&service, result)
}

/// Ends the session and turns the tally into the batch's outcome: an error when a line
/// failed or `--batch-timeout` passed first.
fn conclude(service: &ServiceClient, result: Result<Tally>) -> Result<()> {
    conclude_as(service, result, ("prompt", "sampled"))
}

/// [`conclude`] for lines named `(noun, what was done to them)` in the error.
pub(crate) fn conclude_as(
    service: &ServiceClient,
    result: Result<Tally>,
    names: (&str, &str),
) -> Result<()> {
    let complete = |tally: &Tally| tally.failures() == 0 && !tally.timed_out;
    let reason = match &result {
        Ok(tally) if complete(tally) => FinishReason::Success,
        _ if crate::cli::signals::received().is_some() => FinishReason::Interrupted,
        _ => FinishReason::Errored,
    };
    service.finish(reason);
    match result? {
        tally if complete(&tally) => Ok(()),
        tally => Err(failure(&tally, names)),
    }
}

impl<'a> Shared<'a> {
    /// What the workers share for `config`'s lines.
    fn new(
        config: &'a RunConfig,
        sampler: &'a SamplingClient,
        tokenizer: Option<&'a Tokenizer>,
        chat: Option<&'a ChatSetup>,
    ) -> Shared<'a> {
        Shared {
            sampler,
            tokenizer,
            encoder: Encoder::new(config, tokenizer, chat),
            config,
        }
    }
}

impl Plan {
    /// Opens `--input`, reads the journal when resuming, and validates every line; the
    /// journal's kept part comes back beside the plan.
    fn read(
        config: &RunConfig,
        batch: &BatchOptions,
        deadline: &Deadline,
    ) -> Result<(Plan, Resumed)> {
        let shard = shard::from_process_env(batch.shard)?;
        let input = InputFile::open(&batch.input, deadline)?;
        let defaults = LineDefaults {
            num_samples: config.num_samples,
            params: config.params.clone(),
            chat: config.chat.is_some(),
            topk_logprobs: config.topk_logprobs,
        };
        let mut resumed = Resumed::read(config.output.path.as_deref(), batch.resume)?;
        log::debug!(
            "the output journal keeps {} lines and drops {}",
            resumed.kept(),
            resumed.dropped
        );
        let tokens_only = config.output.tokens_only;
        let scan = input.validate_shard(&defaults, tokens_only, &mut resumed, shard)?;
        let plan = Plan {
            input,
            defaults,
            scan,
            shard,
        };
        Ok((plan, resumed))
    }
}

/// The tokenizer the flags name, loaded before any session (none for `--tokens-only`).
pub(crate) fn early_tokenizer(
    config: &RunConfig,
    loader: &TokenizerLoader,
    deadline: &Deadline,
) -> Result<Option<Tokenizer>> {
    match known_tokenizer(config) {
        Some(spec) if !config.output.tokens_only => loader.load(&spec, deadline).map(Some),
        _ => Ok(None),
    }
}

/// The tokenizer once the sampler exists: the early one, else the served model's.
pub(crate) fn with_sampler(
    early: Option<Tokenizer>,
    config: &RunConfig,
    loader: &TokenizerLoader,
    sampler: &SamplingClient,
    deadline: &Deadline,
) -> Result<Option<Tokenizer>> {
    if early.is_some() || config.output.tokens_only {
        return Ok(early);
    }
    let (_, spec) = model_and_tokenizer(config, sampler)?;
    loader.load(&spec, deadline).map(Some)
}

/// The batch's own settings and clock, as the pipeline needs them.
pub(crate) struct BatchRun<'a> {
    /// `--input`'s options.
    pub batch: &'a BatchOptions,
    /// `--batch-timeout`'s deadline.
    pub deadline: Deadline,
    /// When the batch began, for the summary.
    pub started: Instant,
    /// The `--output` journal, named in the interrupt summary (None: stdout).
    pub output: Option<&'a std::path::Path>,
}

/// Samples every line not done yet, journaling each result in input order.
fn sample_all(plan: Plan, run: &BatchRun, shared: &Shared, journal: Journal) -> Result<Tally> {
    let total = plan.scan.count;
    let skipped = plan.scan.done.len();
    let shard = plan.shard;
    if skipped > 0 {
        log::info!(target: STATUS_TARGET, "{}resuming: {skipped} of {total} prompts already done, {} to sample", shard_prefix(shard), total - skipped);
    }
    let done = plan.scan.done;
    let items = plan
        .input
        .items(plan.defaults.clone())
        .filter(move |item| shard.is_none_or(|s| s.takes(item.line)))
        .filter(move |item| !done.contains(item.line));
    let Some(tally) = journal_all(
        items,
        run,
        (total, skipped),
        |item| process(item, shared),
        journal,
    )?
    else {
        return Ok(Tally::default());
    };
    // Retried lines were appended after the kept ones: restore input order for `tinkex merge`.
    let output = shared.config.output.path.as_deref();
    if let Some(path) = output.filter(|_| run.batch.resume) {
        reorder::restore_order(path)?;
    }
    summarize(&tally, (total, skipped), shard, run.started);
    Ok(tally)
}

/// Runs `work` over `items` on the pipeline and journals each line in input order, with
/// progress and the Ctrl-C summary; None when stdout's reader went away (`| head`), which
/// ends a batch quietly, as it does a single run. `counts`: lines to do, lines already done.
pub(crate) fn journal_all<J, W>(
    items: impl Iterator<Item = J> + Send + 'static,
    run: &BatchRun,
    (total, skipped): (usize, usize),
    work: W,
    mut journal: Journal,
) -> Result<Option<Tally>>
where
    J: Job,
    W: Fn(&J) -> Finished + Sync,
{
    let mut progress = Progress::new(total - skipped, run.batch.progress);
    let options = PipelineOptions {
        parallel: run.batch.parallel,
        fail_fast: run.batch.fail_fast,
        deadline: run.deadline,
    };
    let to_stdout = journal.is_stdout();
    let interrupt = Interrupt::start(total, skipped, run.output);
    let counter = interrupt.clone();
    let tally = pipeline::run(items, options, work, move |finished, tally| {
        {
            let _writing = counter.writing();
            journal.append(&finished.line)?;
            counter.wrote();
        }
        progress.update(tally.written());
        Ok(())
    });
    interrupt.finish();
    match tally {
        Err(error) if to_stdout && is_broken_pipe(&error) => Ok(None),
        other => other.map(Some),
    }
}

impl Job for BatchItem {
    fn failure_line(&self, category: Category, message: &str) -> String {
        let line = json!({
            "id": self.id,
            "line": self.line,
            "error": {"category": category.name(), "message": crate::redact::scrub(message)},
        });
        line.to_string()
    }
}

/// Whether `error` is stdout's reader going away.
fn is_broken_pipe(error: &Error) -> bool {
    matches!(error, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Samples one item and turns the outcome into its output line.
fn process(item: &BatchItem, shared: &Shared) -> Finished {
    match sample_item(item, shared) {
        Ok(line) => Finished {
            line,
            failure: None,
        },
        Err(error) => Finished::failed(item, error.category(), &error.to_string()),
    }
}

fn sample_item(item: &BatchItem, shared: &Shared) -> Result<String> {
    let config = shared.config;
    // The line's one deadline: the sampler also keeps it inside the batch's.
    let line = Deadline::after(config.timeout);
    let encoded = shared.encoder.encode(item)?;
    let prompt_tokens = encoded.tokens.len();
    let mut params = item.params.clone();
    params.stop = encoded.stop;
    let future = shared.sampler.sample_by(
        ModelInput::from_tokens(encoded.tokens),
        item.num_samples,
        params,
        config.extras(item.topk_logprobs),
        line,
    )?;
    let response = future.wait(None)?;
    crate::cli::token_totals::BATCH.add(prompt_tokens, &response);
    success_line(
        item,
        (prompt_tokens, encoded.chat),
        &response,
        shared.tokenizer.filter(|_| !config.output.tokens_only),
    )
}

/// The output line of a success; `prompt` is the prompt's token count and chat entry.
fn success_line(
    item: &BatchItem,
    prompt: (usize, Option<Value>),
    response: &SampleResponse,
    tokenizer: Option<&Tokenizer>,
) -> Result<String> {
    let decoder = tokenizer.map(|t| t as &dyn TextDecoder);
    let sequences = response
        .sequences
        .iter()
        .map(|s| sequence_value(s, decoder))
        .collect::<Result<Vec<_>>>()?;
    let mut line = Map::new();
    line.insert("id".into(), item.id.clone());
    line.insert("line".into(), json!(item.line));
    line.insert("prompt_tokens".into(), json!(prompt.0));
    if let Some(chat) = prompt.1 {
        line.insert("chat".into(), chat);
    }
    line.insert("sequences".into(), Value::Array(sequences));
    if let Some(logprobs) = &response.prompt_logprobs {
        line.insert("prompt_logprobs".into(), json!(logprobs));
    }
    if let Some(topk) = &response.topk_prompt_logprobs {
        line.insert("topk_prompt_logprobs".into(), json!(topk));
    }
    Ok(Value::Object(line).to_string())
}
