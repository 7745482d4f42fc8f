//! `tinkex version`'s flags validated into its [`Config`] (there is nothing to refuse).

use super::args::Args;
use crate::error::{Error, Result};

/// `tinkex version`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `--json`: one JSON object.
    pub json: bool,
    /// `--verbose`: the build facts as text.
    pub verbose: bool,
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        Ok(Config {
            json: args.json,
            verbose: args.verbose,
        })
    }
}
