//! `tinkex score --input`: scoring lines on the batch engine (validation first, the journal,
//! input order also after `--resume`, `--shard`, `--parallel`, the summary and exit code).

use serde_json::{json, Map, Value};

use super::compute::{score_all, Scored};
use super::inputs::encode_texts;
use super::lines::{parse_line, Context, ScoreItem};
use super::output::{results_entries, Report};
use super::ScoreConfig;
use crate::cli::batch::input::{BatchItem, LineInput};
use crate::cli::batch::record::Kind;
use crate::cli::batch::validate::LineFormat;
use crate::cli::batch::{execute_lines, LineKind, Worker};
use crate::cli::prompt::Prompt;
use crate::cli::settings::Mode;
use crate::client::SamplingParams;
use crate::error::{Error, Result};
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
    const RESULTS: Kind = Kind::Score;

    fn parse(&self, text: &str, line: usize) -> std::result::Result<ScoreItem, String> {
        parse_line(text, line)
    }

    fn id<'i>(&self, item: &'i ScoreItem) -> &'i Value {
        &item.id
    }

    fn line(&self, item: &ScoreItem) -> usize {
        item.line
    }

    fn needs_chat(&self, item: &ScoreItem) -> bool {
        self.chat || matches!(item.context, Context::Messages(_))
    }
}

impl LineKind for ScoreLines {
    const NAMES: (&'static str, &'static str) = ("line", "scored");
    const RESUMING: (&'static str, &'static str, &'static str) =
        ("lines", "already scored", "to score");

    fn ready(&self, worker: &Worker) -> Result<()> {
        tokenizer(worker).map(|_| ())
    }

    fn process(&self, item: &ScoreItem, worker: &Worker, deadline: Deadline) -> Result<String> {
        score_item(item, worker, deadline)
    }
}

/// Scores every line of `--input`; the error carries the most severe failed category's code.
pub fn execute(config: &ScoreConfig) -> Result<()> {
    let run = &config.run;
    let Mode::Batch(batch) = &run.mode else {
        return Err(Error::Unexpected("batch scoring without --input".into()));
    };
    let lines = ScoreLines {
        chat: run.chat.is_some(),
    };
    execute_lines(run, batch, lines)
}

/// The tokenizer scoring needs (a batch of scorings always has one).
fn tokenizer<'a>(worker: &Worker<'a>) -> Result<&'a Tokenizer> {
    worker
        .tokenizer
        .ok_or_else(|| Error::Unexpected("batch scoring without a tokenizer".into()))
}

/// Scores one line: its context encoded as `run` encodes a line's prompt, each continuation
/// alone; the output line is `{"id", "line", "context_tokens", "chat"?, "results", "best"}`.
fn score_item(item: &ScoreItem, worker: &Worker, line: Deadline) -> Result<String> {
    let input = match &item.context {
        Context::Text(text) => LineInput::Prompt(Prompt::Text(text.clone())),
        Context::Messages(messages) => LineInput::Messages(messages.clone()),
    };
    let context = worker.encoder.encode(&BatchItem {
        line: item.line,
        id: item.id.clone(),
        input,
        num_samples: 1,
        params: SamplingParams::default(),
        stop_set: false,
        topk_logprobs: 0,
    })?;
    if context.input.tokens().is_empty() {
        return Err(Error::input("context: encodes to no tokens"));
    }
    if !context.input.images().is_empty() {
        return Err(Error::input("context: tinkex score takes no images"));
    }
    let what = if item.choices {
        "choice"
    } else {
        "continuation"
    };
    let continuations = encode_texts(item.continuations.clone(), tokenizer(worker)?, what)?;
    let ids: Vec<Vec<u32>> = continuations.iter().map(|(_, ids)| ids.clone()).collect();
    let logprobs = score_all(worker.sampler, context.input.tokens(), &ids, Some(line))?;
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
        context_tokens: context.input.tokens().len(),
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
