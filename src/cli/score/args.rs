//! `tinkex score`, validated: what is scored ([`Target`]) beside the settings shared with
//! `run` (the flags are in `cli/commands/score/`, which builds a [`ScoreConfig`]).

use std::path::PathBuf;

use crate::cli::settings::RunConfig;
use crate::error::Error;

/// Most choices one scoring may compare (each is one request).
pub const MAX_CHOICES: usize = 1024;

/// What one scoring compares against the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuations {
    /// `--continuation` / `--choice`s, as text.
    Texts(Vec<String>),
    /// `--continuation-tokens` files.
    TokenFiles(Vec<PathBuf>),
}

/// What to score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A context (`--context`, `--messages`, or `--context-tokens`) and what follows it.
    Pair {
        /// `--context-tokens`, when the context is ids.
        context_tokens: Option<PathBuf>,
        /// The continuation(s).
        continuations: Continuations,
        /// Whether they were given as choices (the best is marked).
        choices: bool,
    },
    /// `--prompt-file`: every token of the text after the first.
    Whole,
    /// `--input`: a batch.
    Batch,
}

/// `tinkex score`, validated.
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    /// The shared flags, validated by `run`'s rules (the context plays the prompt's part).
    pub run: RunConfig,
    /// What to score.
    pub target: Target,
    /// `--per-token`.
    pub per_token: bool,
}

/// The hint every usage error of `tinkex score` ends with.
pub const HINT: &str = "run 'tinkex score --help' for the flags and examples";

/// A usage error of `tinkex score` (exit 2), with its own help hint.
pub fn usage(message: impl Into<String>) -> Error {
    Error::Input {
        message: message.into(),
        hint: Some(HINT.into()),
    }
}
