//! `tinkex model …`'s execution: logging set up, then the catalog fetch and print.

use super::config::Config;
use crate::cli::{catalog, logging};
use crate::error::Result;

/// Runs `tinkex model …` from its validated config.
pub fn execute(config: &Config) -> Result<()> {
    logging::init(config.verbosity);
    catalog::execute(config)
}
