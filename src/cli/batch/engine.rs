//! The one batch engine: every line format (`run --input`, `score --input`, the next ones)
//! runs through it, so validation, `--shard`, `--resume`, the reordering after a resume, the
//! per-line deadline, progress, the interrupt summary and the final summary exist once.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::encode::{chat_setup, Encoder};
use super::interrupt::Interrupt;
use super::journal::{Journal, Resumed};
use super::progress::Progress;
use super::record;
use super::reorder;
use super::shard::{self, Shard};
use super::source::InputFile;
use super::summary::{failure, shard_prefix, summarize};
use super::validate::{BadLines, LineFormat, Scan};
use crate::cli::conversation::ChatSetup;
use crate::cli::logging::STATUS_TARGET;
use crate::cli::prepare::{client_config, create_sampler};
use crate::cli::prompt::check_vocab;
use crate::cli::settings::{BatchOptions, RunConfig};
use crate::cli::tokenize::{known_tokenizer, model_and_tokenizer, TokenizerLoader};
use crate::client::{FinishReason, SamplingClient, ServiceClient};
use crate::error::{Category, Error, Result};
use crate::pipeline::{self, Finished, Job, PipelineOptions, Tally};
use crate::tokenizer::Tokenizer;
use crate::Deadline;

/// Without `--batch-timeout` a batch may run as long as it needs; each line keeps `--timeout`.
const UNBOUNDED: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What one kind of batch line is: how it is read ([`LineFormat`]), what is done to it, and
/// the words the messages use for it.
pub(crate) trait LineKind:
    LineFormat<Item: Send + 'static> + Clone + Send + Sync + 'static
{
    /// What a line is and what is done to it, in the failure error: ("prompt", "sampled").
    const NAMES: (&'static str, &'static str);
    /// The resume note's words: lines (plural), already what, and to do what.
    const RESUMING: (&'static str, &'static str, &'static str);
    /// Checks the shared pieces once before any line (scoring needs a tokenizer).
    fn ready(&self, _worker: &Worker) -> Result<()> {
        Ok(())
    }
    /// Does one line, every step ending at `deadline`; the line to journal.
    fn process(&self, item: &Self::Item, worker: &Worker, deadline: Deadline) -> Result<String>;
}

/// What every worker shares: the session's sampler, the tokenizer and the prompt encoder.
pub(crate) struct Worker<'a> {
    /// The sampling session.
    pub sampler: &'a SamplingClient,
    /// The model's tokenizer (none for `--tokens-only`).
    pub tokenizer: Option<&'a Tokenizer>,
    /// Turns a line's prompt or conversation into tokens.
    pub encoder: Encoder<'a>,
    /// The validated flags.
    pub config: &'a RunConfig,
}

/// A line as the pipeline carries it: the parsed item with its id and number, so a failure
/// record is written the same way for every kind.
struct Entry<T> {
    id: Value,
    line: usize,
    item: T,
}

impl<T: Send + 'static> Job for Entry<T> {
    fn failure_line(&self, category: Category, message: &str) -> String {
        record::failure(&self.id, self.line, category, message)
    }
}

/// The input, read and validated before any request: what to do and what is done already.
struct Plan<K> {
    input: InputFile,
    kind: K,
    scan: Scan,
    /// `--shard`, resolved: only its lines are done.
    shard: Option<Shard>,
}

/// The batch's own settings and clock, as the pipeline needs them.
struct BatchRun<'a> {
    batch: &'a BatchOptions,
    /// `--batch-timeout`'s deadline.
    deadline: Deadline,
    /// `--timeout`: each line's own bound.
    line_timeout: Duration,
    /// When the batch began, for the summary.
    started: Instant,
    /// The `--output` journal (None: stdout).
    output: Option<&'a std::path::Path>,
}

/// Runs a whole batch of `kind`'s lines; the error (if any) carries the most severe failed
/// category's exit code.
pub(crate) fn execute<K: LineKind>(
    config: &RunConfig,
    batch: &BatchOptions,
    kind: K,
) -> Result<()> {
    let started = Instant::now();
    let deadline = Deadline::starting_at(started, batch.batch_timeout.unwrap_or(UNBOUNDED));
    let (plan, resumed) = Plan::read(config, batch, kind, started)?;
    let mut client_config = client_config(config, deadline)?;
    // Without --batch-timeout the batch deadline is unbounded: each client step (handshake,
    // session, every line) still ends within --timeout.
    client_config.step_timeout = Some(config.timeout);
    crate::cli::session::add_shard(&mut client_config.session, plan.shard);
    let loader = TokenizerLoader::new(config, &client_config);
    let early = early_tokenizer(config, &loader, &deadline)?;
    if let Some(tokenizer) = &early {
        plan.check_vocab(tokenizer)?;
    }
    // Opened only once the lines are known to be sendable: a refused batch leaves no file.
    let journal = Journal::open(config.output.path.as_deref(), resumed)?;
    let service = ServiceClient::new(client_config)?;
    let result = (|| {
        let sampler = create_sampler(&service, config)?;
        let tokenizer = with_sampler(early, config, &loader, &sampler, &deadline)?;
        let chat: Option<ChatSetup> = match plan.scan.chat_lines {
            0 => None,
            _ => Some(chat_setup(
                config,
                &loader,
                &sampler,
                tokenizer.as_ref(),
                &deadline,
            )?),
        };
        let worker = Worker {
            sampler: &sampler,
            tokenizer: tokenizer.as_ref(),
            encoder: Encoder::new(config, tokenizer.as_ref(), chat.as_ref()),
            config,
        };
        plan.kind.ready(&worker)?;
        let run = BatchRun {
            batch,
            deadline,
            line_timeout: config.timeout,
            started,
            output: config.output.path.as_deref(),
        };
        run_lines(plan, &run, &worker, journal)
    })();
    conclude(&service, result, K::NAMES)
}

impl<K: LineKind> Plan<K> {
    /// Opens `--input`, reads the journal when resuming, and validates every line; the
    /// journal's kept part comes back beside the plan.
    fn read(
        config: &RunConfig,
        batch: &BatchOptions,
        kind: K,
        started: Instant,
    ) -> Result<(Plan<K>, Resumed)> {
        let shard = shard::from_process_env(batch.shard)?;
        let input = InputFile::open(&batch.input, &spool_deadline(config, batch, started))?;
        let mut resumed = Resumed::read(config.output.path.as_deref(), batch.resume)?;
        log::debug!(
            "the output journal keeps {} lines and drops {}",
            resumed.kept(),
            resumed.dropped
        );
        let scan = input.validate_with(&kind, &mut resumed, shard)?;
        let plan = Plan {
            input,
            kind,
            scan,
            shard,
        };
        Ok((plan, resumed))
    }

    /// Refuses the batch when a line still to do gives a token id outside `tokenizer`'s
    /// vocabulary, so it fails before any request instead of when that line is sampled.
    fn check_vocab(&self, tokenizer: &Tokenizer) -> Result<()> {
        let mut bad = BadLines::default();
        for item in self.input.items_with(self.kind.clone()) {
            let line = self.kind.line(&item);
            if self.shard.is_some_and(|s| !s.takes(line)) || self.scan.done.contains(line) {
                continue;
            }
            let Some(ids) = self.kind.token_ids(&item) else {
                continue;
            };
            if let Err(error) = check_vocab(ids, tokenizer, "prompt ") {
                bad.note(line, error.to_string());
            }
        }
        bad.refuse(self.input.label(), K::UNDONE)
    }
}

/// How long reading `--input -` (or a pipe) may take: `--batch-timeout` when given, else
/// `--timeout`, so a stdin that never closes cannot hold the batch forever.
fn spool_deadline(config: &RunConfig, batch: &BatchOptions, started: Instant) -> Deadline {
    Deadline::starting_at(started, batch.batch_timeout.unwrap_or(config.timeout))
}

/// The tokenizer the flags name, loaded before any session (none for `--tokens-only`).
fn early_tokenizer(
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
fn with_sampler(
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

/// Does every line not done yet, journaling each result in input order; after a resume the
/// retried lines are put back in their places, so the journal merges like an unbroken run.
fn run_lines<K: LineKind>(
    plan: Plan<K>,
    run: &BatchRun,
    worker: &Worker,
    journal: Journal,
) -> Result<Tally> {
    let (total, skipped, shard) = (plan.scan.count, plan.scan.done.len(), plan.shard);
    if skipped > 0 {
        let (lines, already, to_do) = K::RESUMING;
        log::info!(target: STATUS_TARGET, "{}resuming: {skipped} of {total} {lines} {already}, {} {to_do}", shard_prefix(shard), total - skipped);
    }
    let done = plan.scan.done;
    let kind = plan.kind.clone();
    let items = plan
        .input
        .items_with(plan.kind.clone())
        .map(move |item| Entry {
            id: kind.id(&item).clone(),
            line: kind.line(&item),
            item,
        })
        .filter(move |entry| shard.is_none_or(|s| s.takes(entry.line)))
        .filter(move |entry| !done.contains(entry.line));
    let kind = &plan.kind;
    let work = |entry: &Entry<K::Item>| {
        // The line's one deadline: every step ends at its --timeout or the batch's, whichever
        // falls first.
        let line = Deadline::earliest(run.deadline, Deadline::after(run.line_timeout));
        match kind.process(&entry.item, worker, line) {
            Ok(line) => Finished {
                line,
                failure: None,
            },
            Err(error) => Finished::failed(entry, error.category(), &error.to_string()),
        }
    };
    let Some(tally) = journal_all(items, run, (total, skipped), work, journal)? else {
        return Ok(Tally::default());
    };
    if let Some(path) = run.output.filter(|_| run.batch.resume) {
        reorder::restore_order(path)?;
    }
    summarize(&tally, (total, skipped), shard, run.started);
    Ok(tally)
}

/// Runs `work` over `items` on the pipeline and journals each line in input order, with
/// progress and the Ctrl-C summary; None when stdout's reader went away (`| head`), which
/// ends a batch quietly, as it does a single run. `counts`: lines to do, lines already done.
fn journal_all<J, W>(
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

/// Whether `error` is stdout's reader going away.
fn is_broken_pipe(error: &Error) -> bool {
    matches!(error, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Ends the session and turns the tally into the batch's outcome: an error naming lines as
/// `names` (noun, what was done to them) when a line failed or `--batch-timeout` passed first.
fn conclude(service: &ServiceClient, result: Result<Tally>, names: (&str, &str)) -> Result<()> {
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
