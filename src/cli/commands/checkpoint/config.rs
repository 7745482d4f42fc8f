//! `tinkex checkpoint list|info`'s flags validated into its [`Config`].

use super::args::{Args, CheckpointCommand};
use crate::cli::catalog::command::{checkpoint_path, limit, non_empty};
use crate::cli::catalog::{Action, ReadCommand};
use crate::error::{Error, Result};

/// `tinkex checkpoint …`, validated.
#[derive(Debug, Clone)]
pub enum Config {
    /// `list` and `info`: a catalog read.
    Read(ReadCommand),
    /// `download`.
    Download(super::download::Config),
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        match args.command {
            CheckpointCommand::Download(a) => {
                super::download::Config::try_from(a).map(Config::Download)
            }
            other => read(other).map(Config::Read),
        }
    }
}

/// `list` and `info`, validated into a catalog read.
fn read(command: CheckpointCommand) -> Result<ReadCommand> {
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
            ReadCommand::new(action, a.json, &a.connection(), &a.verbosity(), HELP)
        }
        CheckpointCommand::Info(a) => {
            let action = Action::CheckpointInfo {
                path: checkpoint_path(&a.tinker_path)?,
            };
            let help = "checkpoint info";
            ReadCommand::new(action, a.json, &a.connection(), &a.verbosity(), help)
        }
        CheckpointCommand::Download(_) => Err(Error::Unexpected(
            "checkpoint download is not a read command".into(),
        )),
    }
}
