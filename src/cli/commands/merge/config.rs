//! `tinkex merge`'s flags validated into its [`Config`].

use super::args::Args;
use crate::cli::batch::merge_cmd::MergeConfig;
use crate::cli::settings::Verbosity;
use crate::error::{Error, Result};

/// `tinkex merge`, validated: the files to merge, and how much goes to stderr.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to merge, into what.
    pub merge: MergeConfig,
    /// `-q`/`-v`, by the rule every command follows.
    pub verbosity: Verbosity,
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let verbosity = args.verbosity().validate().map_err(|error| Error::Input {
            message: error.to_string(),
            hint: Some("run 'tinkex merge --help' for its flags and an example".into()),
        })?;
        let merge = MergeConfig::new(args.input, args.journals, args.output, args.allow_missing)?;
        Ok(Config { merge, verbosity })
    }
}
