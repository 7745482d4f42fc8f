//! `tinkex score --input`: a batch of scorings through `run --input`'s machinery (validation
//! first, the journal, input order, `--resume`, `--parallel`, the summary and exit code).

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::args::ScoreConfig;
use super::compute::{score_all, Scored};
use super::inputs::encode_texts;
use super::lines::{parse_line, Context, ScoreItem};
use super::output::{results_entries, Report};
use crate::cli::batch::encode::{chat_setup, Encoder};
use crate::cli::batch::input::{BatchItem, LineInput};
use crate::cli::batch::journal::{Journal, Resumed};
use crate::cli::batch::shard::Shard;
use crate::cli::batch::source::{InputFile, LineFormat, Scan};
use crate::cli::batch::{
    conclude_as, early_tokenizer, journal_all, shard, shard_prefix, summarize, with_sampler,
    BatchRun, UNBOUNDED,
};
use crate::cli::encode::TokenizerLoader;
use crate::cli::logging::STATUS_TARGET;
use crate::cli::prepare::{client_config, create_sampler};
use crate::cli::prompt::Prompt;
use crate::cli::settings::Mode;
use crate::client::{SamplingClient, SamplingParams, ServiceClient};
use crate::error::{Category, Error, Result};
use crate::pipeline::{Finished, Job, Tally};
use crate::tokenizer::Tokenizer;
use crate::Deadline;

/// Score lines; with `--chat` a `"context"` is a user message.
#[derive(Clone, Copy)]
struct ScoreLines {
    chat: bool,
}

impl LineFormat for ScoreLines {
    type Item = ScoreItem;
    const ITEMS: &'static str = "lines to score";
    const UNDONE: &'static str = "nothing was scored";
    const RESULTS: crate::cli::batch::record::Kind = crate::cli::batch::record::Kind::Score;

    fn parse(&self, text: &str, line: usize) -> std::result::Result<ScoreItem, String> {
        parse_line(text, line)
    }

    fn id<'i>(&self, item: &'i ScoreItem) -> &'i Value {
        &item.id
    }

    fn needs_chat(&self, item: &ScoreItem) -> bool {
        self.chat || matches!(item.context, Context::Messages(_))
    }
}

/// What every worker shares.
struct Shared<'a> {
    sampler: &'a SamplingClient,
    tokenizer: &'a Tokenizer,
    encoder: Encoder<'a>,
    timeout: Duration,
}

/// Scores every line of `--input`; the error carries the most severe failed category's code.
pub fn execute(config: &ScoreConfig) -> Result<()> {
    let run = &config.run;
    let Mode::Batch(batch) = &run.mode else {
        return Err(Error::Unexpected("batch scoring without --input".into()));
    };
    let started = Instant::now();
    let deadline = Deadline::starting_at(started, batch.batch_timeout.unwrap_or(UNBOUNDED));
    let shard = shard::from_process_env(batch.shard)?;
    let input = InputFile::open(&batch.input, &deadline)?;
    let format = ScoreLines {
        chat: run.chat.is_some(),
    };
    let mut resumed = Resumed::read(run.output.path.as_deref(), batch.resume)?;
    let scan = input.validate_with(&format, &mut resumed, shard)?;
    let mut client_config = client_config(run, deadline)?;
    client_config.step_timeout = Some(run.timeout);
    crate::cli::session::add_shard(&mut client_config.session, shard);
    let journal = Journal::open(run.output.path.as_deref(), resumed)?;
    let loader = TokenizerLoader::new(run, &client_config);
    let early = early_tokenizer(run, &loader, &deadline)?;
    let service = ServiceClient::new(client_config)?;
    let result = (|| {
        let sampler = create_sampler(&service, run)?;
        let tokenizer = with_sampler(early, run, &loader, &sampler, &deadline)?
            .ok_or_else(|| Error::Unexpected("batch scoring without a tokenizer".into()))?;
        let chat = match scan.chat_lines {
            0 => None,
            _ => Some(chat_setup(
                run,
                &loader,
                &sampler,
                Some(&tokenizer),
                &deadline,
            )?),
        };
        let shared = Shared {
            sampler: &sampler,
            tokenizer: &tokenizer,
            encoder: Encoder::new(run, Some(&tokenizer), chat.as_ref()),
            timeout: run.timeout,
        };
        let lines = Lines {
            input: &input,
            format,
            scan,
            shard,
        };
        let clock = BatchRun {
            batch,
            deadline,
            started,
            output: run.output.path.as_deref(),
        };
        score_lines(lines, &clock, &shared, journal)
    })();
    conclude_as(&service, result, ("line", "scored"))
}

impl Job for ScoreItem {
    fn failure_line(&self, category: Category, message: &str) -> String {
        let line = json!({
            "id": self.id,
            "line": self.line,
            "error": {"category": category.name(), "message": crate::redact::scrub(message)},
        });
        line.to_string()
    }
}

/// The validated input and what the first pass learned.
struct Lines<'a> {
    input: &'a InputFile,
    format: ScoreLines,
    scan: Scan,
    /// `--shard`, resolved: only its lines are scored.
    shard: Option<Shard>,
}

/// Scores every line not done yet, journaling each result in input order.
fn score_lines(lines: Lines, run: &BatchRun, shared: &Shared, journal: Journal) -> Result<Tally> {
    let total = lines.scan.count;
    let skipped = lines.scan.done.len();
    let shard = lines.shard;
    if skipped > 0 {
        log::info!(target: STATUS_TARGET, "{}resuming: {skipped} of {total} lines already scored, {} to score", shard_prefix(shard), total - skipped);
    }
    let done = lines.scan.done;
    let items = lines
        .input
        .items_with(lines.format)
        .filter(move |item| shard.is_none_or(|s| s.takes(item.line)))
        .filter(move |item| !done.contains(item.line));
    let work = |item: &ScoreItem| match score_item(item, shared) {
        Ok(line) => Finished {
            line,
            failure: None,
        },
        Err(error) => Finished::failed(item, error.category(), &error.to_string()),
    };
    let Some(tally) = journal_all(items, run, (total, skipped), work, journal)? else {
        return Ok(Tally::default());
    };
    summarize(&tally, (total, skipped), shard, run.started);
    Ok(tally)
}

/// Scores one line: its context encoded as `run` encodes a line's prompt, each continuation
/// alone; the output line is `{"id", "line", "context_tokens", "chat"?, "results", "best"}`.
fn score_item(item: &ScoreItem, shared: &Shared) -> Result<String> {
    // The line's one deadline, shared by all its choices (the sampler keeps it inside the batch's).
    let line = Deadline::after(shared.timeout);
    let input = match &item.context {
        Context::Text(text) => LineInput::Prompt(Prompt::Text(text.clone())),
        Context::Messages(messages) => LineInput::Messages(messages.clone()),
    };
    let context = shared.encoder.encode(&BatchItem {
        line: item.line,
        id: item.id.clone(),
        input,
        num_samples: 1,
        params: SamplingParams::default(),
        stop_set: false,
        topk_logprobs: 0,
    })?;
    if context.tokens.is_empty() {
        return Err(Error::input("context: encodes to no tokens"));
    }
    let what = if item.choices {
        "choice"
    } else {
        "continuation"
    };
    let continuations = encode_texts(item.continuations.clone(), shared.tokenizer, what)?;
    let ids: Vec<Vec<u32>> = continuations.iter().map(|(_, ids)| ids.clone()).collect();
    let logprobs = score_all(shared.sampler, &context.tokens, &ids, Some(line))?;
    let results: Vec<Scored> = continuations
        .into_iter()
        .zip(logprobs)
        .map(|((continuation, tokens), logprobs)| Scored {
            continuation,
            tokens,
            logprobs,
        })
        .collect();
    let report = Report {
        model: "",
        context_tokens: context.tokens.len(),
        // Stops play no part in scoring: only the renderer is worth showing.
        chat: context.chat.map(|c| json!({"renderer": c["renderer"]})),
        results: &results,
        choices: item.choices,
    };
    let mut line = Map::new();
    line.insert("id".into(), item.id.clone());
    line.insert("line".into(), json!(item.line));
    results_entries(&report, &mut line);
    Ok(Value::Object(line).to_string())
}
