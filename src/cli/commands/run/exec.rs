//! `tinkex run`'s execution: logging set up, then one prompt, a batch, or the prompt printed.

use super::config::Config;
use crate::cli::settings::Mode;
use crate::cli::{batch, conversation, logging, run};
use crate::error::Result;

/// Runs `tinkex run` in its mode; a cold tokenizer's cache write is finished either way.
pub fn execute(config: &Config) -> Result<()> {
    logging::init(config.verbosity);
    let result = match &config.mode {
        Mode::Single(source) => run::execute(config, source.as_ref()),
        Mode::Batch(options) => batch::execute(config, options),
        Mode::PrintPrompt(source) => conversation::print_prompt(config, source.as_ref()),
    };
    crate::tokenizer::finish_cache_writes();
    result
}
