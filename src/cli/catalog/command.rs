//! The read commands' flags, validated into one [`ReadCommand`] before any request.

use std::time::Duration;

use super::args::{
    AuthArgs, AuthCommand, CheckpointArgs, CheckpointCommand, CheckpointInfoArgs, Connect,
    ConnectionFlags, ModelArgs, ModelCommand, ReadArgs, TrainingRunArgs, TrainingRunCommand,
};
use crate::cli::settings::{Verbosity, DEFAULT_TIMEOUT};
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

/// What one leaf command asked for, before the shared flags are checked.
type Parts = (Action, bool, ConnectionFlags, &'static str);

impl TryFrom<ReadArgs> for ReadCommand {
    type Error = Error;

    fn try_from(args: ReadArgs) -> Result<ReadCommand> {
        let (action, json, flags, help) = match args {
            ReadArgs::Model(ModelArgs {
                command: ModelCommand::List(a),
            }) => (
                Action::Models {
                    filter: a.filter.clone(),
                },
                a.json,
                a.connection(),
                "model list",
            ),
            ReadArgs::Checkpoint(CheckpointArgs { command }) => checkpoint(command)?,
            ReadArgs::TrainingRun(TrainingRunArgs { command }) => training_run(command)?,
            ReadArgs::Auth(AuthArgs {
                command: AuthCommand::Status(a),
            }) => (Action::AuthStatus, false, a.connection(), "auth status"),
        };
        if flags.quiet && flags.verbose > 0 {
            let message = "give either --quiet or --verbose, not both";
            return Err(usage(message.into(), help));
        }
        Ok(ReadCommand {
            action,
            json,
            api_key: flags.api_key,
            base_url: flags.base_url,
            timeout: flags.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
            verbosity: match (flags.quiet, flags.verbose) {
                (true, _) => Verbosity::Quiet,
                (false, 0) => Verbosity::Normal,
                (false, n) => Verbosity::Verbose(n),
            },
        })
    }
}

fn checkpoint(command: CheckpointCommand) -> Result<Parts> {
    match command {
        CheckpointCommand::List(a) => {
            const HELP: &str = "checkpoint list";
            // As in the official CLI, --limit has no effect with --run-id (no paging there).
            let action = match a.run_id.clone() {
                Some(id) => Action::RunCheckpoints {
                    run_id: non_empty(id, "--run-id", HELP)?,
                },
                None => Action::Checkpoints {
                    limit: limit(a.limit),
                },
            };
            Ok((action, a.json, a.connection(), HELP))
        }
        CheckpointCommand::Info(a) => {
            let path = checkpoint_path(&a)?;
            let action = Action::CheckpointInfo { path };
            Ok((action, a.json, a.connection(), "checkpoint info"))
        }
    }
}

fn checkpoint_path(a: &CheckpointInfoArgs) -> Result<CheckpointPath> {
    CheckpointPath::parse(&a.tinker_path).ok_or_else(|| Error::Input {
        message: format!("invalid checkpoint path '{}'", a.tinker_path),
        hint: Some(
            "give tinker://RUN/KIND/NAME, KIND one of weights, sampler_weights, \
             external_weights (see 'tinkex checkpoint list')"
                .into(),
        ),
    })
}

fn training_run(command: TrainingRunCommand) -> Result<Parts> {
    match command {
        TrainingRunCommand::List(a) => {
            let action = Action::Runs {
                limit: limit(a.limit),
            };
            Ok((action, a.json, a.connection(), "training-run list"))
        }
        TrainingRunCommand::Info(a) => {
            const HELP: &str = "training-run info";
            let id = non_empty(a.id.clone(), "the run id", HELP)?;
            Ok((Action::RunInfo { id }, a.json, a.connection(), HELP))
        }
    }
}

/// A user error whose hint points at the command's own help.
fn usage(message: String, help: &str) -> Error {
    Error::Input {
        message,
        hint: Some(format!(
            "run 'tinkex {help} --help' for the flags and an example"
        )),
    }
}

/// `--limit`: 0 means all; absent means [`DEFAULT_LIMIT`].
fn limit(given: Option<u64>) -> Option<u64> {
    match given.unwrap_or(DEFAULT_LIMIT) {
        0 => None,
        n => Some(n),
    }
}

fn non_empty(value: String, what: &str, help: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Err(usage(format!("{what} is empty"), help));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{parse, Parsed};

    fn command(args: &[&str]) -> Result<ReadCommand> {
        let argv: Vec<String> = std::iter::once("tinkex")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        match parse(&argv) {
            Parsed::Read(read) => ReadCommand::try_from(*read),
            other => panic!("expected a read command, got {other:?}"),
        }
    }

    #[test]
    fn limits_default_to_20_and_0_means_all() {
        let c = command(&["checkpoint", "list"]).unwrap();
        assert_eq!(c.action, Action::Checkpoints { limit: Some(20) });
        let c = command(&["training-run", "list", "--limit=0", "--json"]).unwrap();
        assert_eq!(c.action, Action::Runs { limit: None });
        assert!(c.json);
        let c = command(&["checkpoint", "list", "--run-id", "r", "--limit", "5"]).unwrap();
        assert_eq!(c.action, Action::RunCheckpoints { run_id: "r".into() });
    }

    #[test]
    fn connection_flags_and_their_checks() {
        let c = command(&["auth", "status", "--timeout", "3", "-vv"]).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.verbosity, Verbosity::Verbose(2));
        let err = command(&["model", "list", "-q", "-v"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.hint().unwrap().contains("tinkex model list --help"));
        let err = command(&["training-run", "info", ""]).unwrap_err();
        assert!(err.to_string().contains("the run id is empty"), "{err}");
        let err = command(&["checkpoint", "info", "tinker://r/model/x"]).unwrap_err();
        assert!(err.to_string().contains("invalid checkpoint path"), "{err}");
    }
}
