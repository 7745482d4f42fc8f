//! `tinkex training-run list|info`'s flags validated into its [`Config`].

use super::args::{Args, TrainingRunCommand};
use crate::cli::catalog::command::{limit, non_empty};
use crate::cli::catalog::{Action, ReadCommand};
use crate::error::{Error, Result};

/// `tinkex training-run …`, validated.
pub type Config = ReadCommand;

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        match args.command {
            TrainingRunCommand::List(a) => {
                let action = Action::Runs {
                    limit: limit(a.limit),
                };
                let help = "training-run list";
                ReadCommand::new(action, a.json, &a.connection(), &a.verbosity(), help)
            }
            TrainingRunCommand::Info(a) => {
                const HELP: &str = "training-run info";
                let id = non_empty(a.id.clone(), "the run id", HELP)?;
                let action = Action::RunInfo { id };
                ReadCommand::new(action, a.json, &a.connection(), &a.verbosity(), HELP)
            }
        }
    }
}
