//! `tinkex prefetch`'s execution: logging set up, then the fetches in `cli/tokenizers.rs`.

use super::config::Config;
use crate::cli::{logging, tokenizers};
use crate::error::Result;

/// Runs `tinkex prefetch`.
pub fn execute(config: &Config) -> Result<()> {
    logging::init(config.verbosity);
    tokenizers::prefetch_all(&config.base_models, &config.tokenizers)
}
