//! `tinkex checkpoint download`'s flags validated into its [`Config`], before any request.

use std::path::PathBuf;
use std::time::Duration;

use super::args::Args;
use crate::cli::flags::groups::Verbosity;
use crate::download::Target;
use crate::error::{Error, Result};

/// The default `--timeout` of a download: a multi-gigabyte file on a slow link needs hours,
/// and a stalled body is noticed long before by the per-read stall window.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// `tinkex checkpoint download`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The checkpoint.
    pub target: Target,
    /// `-o`: the directory the destination goes into.
    pub out: PathBuf,
    /// `--force`
    pub force: bool,
    /// `--json`
    pub json: bool,
    /// `--api-key` (the environment is consulted by the client layer).
    pub api_key: Option<String>,
    /// `--base-url`
    pub base_url: Option<String>,
    /// `--timeout`: the whole download's deadline.
    pub timeout: Duration,
    /// stderr detail.
    pub verbosity: Verbosity,
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let hinted = |error: Error| match error {
            Error::Usage(message) => Error::Input {
                message,
                hint: Some("run 'tinkex checkpoint download --help' for its flags".into()),
            },
            other => other,
        };
        let verbosity = args.verbosity().validate().map_err(hinted)?;
        let target = Target::parse(&args.tinker_path)?;
        let out = args
            .output_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        if out.as_os_str().is_empty() {
            return Err(hinted(Error::usage("-o/--output-dir is empty")));
        }
        Ok(Config {
            target,
            out,
            force: args.force,
            json: args.json,
            api_key: args.api_key,
            base_url: args.base_url,
            timeout: args.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
            verbosity,
        })
    }
}
