//! `tinkex score --input`: a batch of scorings through the batch machinery of `run --input`.

use super::args::ScoreConfig;
use crate::error::{Error, Result};

/// Scores every line of `--input`.
pub fn execute(_config: &ScoreConfig) -> Result<()> {
    Err(Error::input("tinkex score --input is not available yet"))
}
