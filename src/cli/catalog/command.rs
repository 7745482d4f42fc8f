//! The read commands' flags, validated into one [`ReadCommand`] before any request.

use std::time::Duration;

use crate::cli::flags::groups::{ConnectionFlags, VerbosityFlags};
use crate::cli::settings::Verbosity;
use crate::client::CheckpointPath;
use crate::error::{Error, Result};

/// The default `--limit` of the list commands.
pub const DEFAULT_LIMIT: u64 = 20;

/// What to fetch.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `model list [FILTER]`
    Models { filter: Option<String> },
    /// `checkpoint list [--limit N]` (`None` = all)
    Checkpoints { limit: Option<u64> },
    /// `checkpoint list --run-id R`
    RunCheckpoints { run_id: String },
    /// `checkpoint info PATH`
    CheckpointInfo { path: CheckpointPath },
    /// `training-run list [--limit N]` (`None` = all)
    Runs { limit: Option<u64> },
    /// `training-run info ID`
    RunInfo { id: String },
    /// `auth status`
    AuthStatus,
}

/// A read command, validated: what to fetch, how to print it, how to connect.
#[derive(Debug, Clone)]
pub struct ReadCommand {
    /// What to fetch.
    pub action: Action,
    /// `--json`
    pub json: bool,
    /// `--api-key` (the environment is consulted by the client layer).
    pub api_key: Option<String>,
    /// `--base-url`
    pub base_url: Option<String>,
    /// `--timeout`: the whole command's deadline.
    pub timeout: Duration,
    /// stderr detail.
    pub verbosity: Verbosity,
}

impl ReadCommand {
    /// The command `help` names (`checkpoint list`), its connection and verbosity flags
    /// checked by the rules every command follows; errors point at that command's help.
    pub fn new(
        action: Action,
        json: bool,
        connection: &ConnectionFlags,
        verbosity: &VerbosityFlags,
        help: &str,
    ) -> Result<ReadCommand> {
        let hinted = |error: Error| match error {
            Error::Usage(message) => usage(message, help),
            other => other,
        };
        let verbosity = verbosity.validate().map_err(hinted)?;
        let connection = connection.validate().map_err(hinted)?;
        Ok(ReadCommand {
            action,
            json,
            api_key: connection.api_key,
            base_url: connection.base_url,
            timeout: connection.timeout,
            verbosity,
        })
    }
}

/// `checkpoint info PATH`: the path parsed, or an error that shows its form.
pub fn checkpoint_path(tinker_path: &str) -> Result<CheckpointPath> {
    CheckpointPath::parse(tinker_path).ok_or_else(|| Error::Input {
        message: format!("invalid checkpoint path '{tinker_path}'"),
        hint: Some(
            "give tinker://RUN/KIND/NAME, KIND one of weights, sampler_weights, \
             external_weights (see 'tinkex checkpoint list')"
                .into(),
        ),
    })
}

/// A user error whose hint points at the command's own help.
pub fn usage(message: String, help: &str) -> Error {
    Error::Input {
        message,
        hint: Some(format!(
            "run 'tinkex {help} --help' for the flags and an example"
        )),
    }
}

/// `--limit`: 0 means all; absent means [`DEFAULT_LIMIT`].
pub fn limit(given: Option<u64>) -> Option<u64> {
    match given.unwrap_or(DEFAULT_LIMIT) {
        0 => None,
        n => Some(n),
    }
}

/// `value`, unless it is empty or blank (then an error naming `what`).
pub fn non_empty(value: String, what: &str, help: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Err(usage(format!("{what} is empty"), help));
    }
    Ok(value)
}
