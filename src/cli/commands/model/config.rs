//! `tinkex model list`'s flags validated into its [`Config`].

use super::args::{Args, ModelCommand};
use crate::cli::catalog::{Action, ReadCommand};
use crate::error::{Error, Result};

/// `tinkex model …`, validated.
pub type Config = ReadCommand;

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let ModelCommand::List(a) = args.command;
        let action = Action::Models {
            filter: a.filter.clone(),
        };
        let (connection, verbosity) = (a.connection(), a.verbosity());
        ReadCommand::new(action, a.json, &connection, &verbosity, "model list")
    }
}
