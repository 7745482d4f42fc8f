//! `tinkex checkpoint …`'s execution: logging set up, then the catalog read, the lifecycle
//! write, or the download.

use super::config::Config;
use super::write;
use crate::cli::{catalog, logging};
use crate::error::Result;

/// Runs `tinkex checkpoint …` from its validated config.
pub fn execute(config: &Config) -> Result<()> {
    match config {
        Config::Read(read) => {
            logging::init(read.verbosity);
            catalog::execute(read)
        }
        Config::Write(command) => {
            logging::init(command.verbosity);
            write::execute(command)
        }
        Config::Download(download) => super::download::execute(download),
    }
}
