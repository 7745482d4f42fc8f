//! `tinkex auth status`'s flags validated into its [`Config`].

use super::args::{Args, AuthCommand};
use crate::cli::catalog::{Action, ReadCommand};
use crate::error::{Error, Result};

/// `tinkex auth …`, validated.
pub type Config = ReadCommand;

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let AuthCommand::Status(a) = args.command;
        let (connection, verbosity) = (a.connection(), a.verbosity());
        ReadCommand::new(
            Action::AuthStatus,
            false,
            &connection,
            &verbosity,
            "auth status",
        )
    }
}
