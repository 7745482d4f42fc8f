//! `tinkex cache`'s flags validated into its [`Config`].

use super::args::{Args, CacheAction};
use crate::error::{Error, Result};

/// `tinkex cache`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `tinkex cache clear` (else the listing).
    pub clear: bool,
    /// `--json`: the listing as one JSON document.
    pub json: bool,
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        Ok(Config {
            clear: matches!(args.action, Some(CacheAction::Clear(_))),
            json: args.json,
        })
    }
}
