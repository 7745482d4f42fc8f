//! `tinkex run`'s flags validated into its [`Config`]: each shared group by the shared rules.

use super::args::Args;
use crate::cli::settings::{Groups, RunConfig};
use crate::error::{Error, Result};

/// `tinkex run`, validated: the settings `run` shares with `score`.
pub type Config = RunConfig;

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        RunConfig::try_from(Groups {
            model: args.model(),
            prompt: args.prompt(),
            tokenizer: args.tokenizer(),
            sampling: args.sampling(),
            batch: args.batch(),
            chat: args.chat(),
            connection: args.connection(),
            pool: args.pool(),
            output: args.output(),
            render: args.render(),
            verbosity: args.verbosity(),
            session: args.session(),
        })
    }
}
