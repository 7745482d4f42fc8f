//! `tinkex checkpoint …`'s execution: a catalog read, or a download.

use super::config::Config;
use crate::cli::{catalog, logging};
use crate::error::Result;

/// Runs `tinkex checkpoint …` from its validated config.
pub fn execute(config: &Config) -> Result<()> {
    match config {
        Config::Read(read) => {
            logging::init(read.verbosity);
            catalog::execute(read)
        }
        Config::Download(download) => super::download::execute(download),
    }
}
