//! `tinkex prefetch`'s flags validated into its [`Config`].

use super::args::Args;
use crate::cli::flags::groups::VerbosityFlags;
use crate::cli::settings::Verbosity;
use crate::error::{Error, Result};

/// `tinkex prefetch`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `--base-model`s whose tokenizers to fetch.
    pub base_models: Vec<String>,
    /// `--tokenizer`s to fetch.
    pub tokenizers: Vec<String>,
    /// `-q`, by the rule every command follows (prefetch has no `-v`).
    pub verbosity: Verbosity,
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let verbosity = VerbosityFlags {
            quiet: args.quiet,
            verbose: 0,
        };
        Ok(Config {
            verbosity: verbosity.validate()?,
            base_models: args.base_model,
            tokenizers: args.tokenizer,
        })
    }
}
