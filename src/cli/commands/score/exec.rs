//! `tinkex score`'s execution: logging set up, then the scoring code in `cli/score/`.

use super::config::Config;
use crate::cli::{logging, score};
use crate::error::Result;

/// Runs `tinkex score` from its validated config.
pub fn execute(config: &Config) -> Result<()> {
    logging::init(config.run.verbosity);
    score::execute(config)
}
