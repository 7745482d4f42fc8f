//! Batch mode: lines from a JSONL file, done by parallel workers, written in input order. Every
//! line format (`run --input`'s prompts, `score --input`'s scorings) runs on the one engine.

pub(crate) mod encode;
mod engine;
mod ids;
pub(crate) mod input;
mod interrupt;
pub(crate) mod journal;
mod merge;
pub(super) mod merge_cmd;
mod missing;
pub(crate) mod progress;
pub(crate) mod record;
mod reorder;
mod resumed;
mod sample;
pub(crate) mod shard;
pub(crate) mod source;
mod summary;
pub(crate) mod validate;

pub(crate) use self::engine::{execute as execute_lines, LineKind, Worker};

use self::validate::RunLines;
use super::settings::{BatchOptions, RunConfig};
use crate::error::Result;

/// Runs `run --input`: every prompt sampled; the error (if any) carries the most severe
/// failed category's exit code.
pub fn execute(config: &RunConfig, batch: &BatchOptions) -> Result<()> {
    let lines = RunLines {
        defaults: input::LineDefaults {
            num_samples: config.num_samples,
            params: config.params.clone(),
            chat: config.chat.is_some(),
            topk_logprobs: config.topk_logprobs,
        },
        tokens_only: config.output.tokens_only,
    };
    engine::execute(config, batch, lines)
}
