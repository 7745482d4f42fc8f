//! `tinkex cache`'s execution: the listing or the clearing in `cli/tokenizers.rs`.

use super::config::Config;
use crate::cli::settings::Verbosity;
use crate::cli::{logging, tokenizers};
use crate::error::Result;

/// Runs `tinkex cache [clear]`.
pub fn execute(config: &Config) -> Result<()> {
    logging::init(Verbosity::Normal);
    tokenizers::cache(config.clear, config.json)
}
