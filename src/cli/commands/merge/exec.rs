//! `tinkex merge`'s execution: logging set up, then the merge in `cli/batch/merge_cmd.rs`.

use super::config::Config;
use crate::cli::batch::merge_cmd;
use crate::cli::logging;
use crate::error::Result;

/// Runs `tinkex merge` (it makes no request, so it needs no key).
pub fn execute(config: &Config) -> Result<()> {
    logging::init(config.verbosity);
    merge_cmd::execute(&config.merge)
}
