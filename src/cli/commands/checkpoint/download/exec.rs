//! `tinkex checkpoint download`'s execution: the checks that need no request, the handshake,
//! the download with progress on stderr and signals turned into an interruption, the print.

use std::path::Path;

use super::config::Config;
use super::progress::Progress;
use crate::cli::{logging, output, signals};
use crate::client::{Config as ClientConfig, ExportClient};
use crate::deadline::Deadline;
use crate::download::{self, staging, FetchPolicy, Options, Summary};
use crate::error::{Error, Result};

/// Runs `tinkex checkpoint download` from its validated config.
pub fn execute(config: &Config) -> Result<()> {
    logging::init(config.verbosity);
    // Everything the user can get wrong locally is refused before any request.
    out_dir(&config.out)?;
    let destination = config.target.destination(&config.out)?;
    staging::refuse_existing(&destination, config.force)?;
    let deadline = Deadline::after(config.timeout);
    let (key, url) = (config.api_key.clone(), config.base_url.clone());
    let client_config = ClientConfig::from_env(key, url, deadline, 1)?;
    // From here a signal only sets a flag: the download stops at its next chunk and cleans up.
    let watch = signals::Watch::start(&deadline);
    let outcome = run(client_config, config);
    watch.finish();
    let summary = outcome?;
    print(&summary, config.json)
}

/// Connects and downloads, progress drawn from the events.
fn run(client_config: ClientConfig, config: &Config) -> Result<Summary> {
    let client = ExportClient::connect(client_config)?;
    interrupted()?;
    let opts = Options {
        out: config.out.clone(),
        force: config.force,
        policy: FetchPolicy::default(),
    };
    let mut progress = Progress::new();
    let outcome = download::download(&client, &config.target, &opts, &mut |event| {
        interrupted()?;
        progress.on(event);
        Ok(())
    });
    progress.end(outcome.is_ok());
    outcome
}

/// A signal received so far, as the interruption that ends the download (130, 143, …).
fn interrupted() -> Result<()> {
    match signals::received() {
        Some(signal) => Err(Error::Interrupted {
            exit_code: 128 + signal,
        }),
        None => Ok(()),
    }
}

/// `-o` must be an existing directory (the destination is made inside it, never it).
fn out_dir(out: &Path) -> Result<()> {
    match std::fs::metadata(out) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::input(format!(
            "-o {}: not a directory",
            out.display()
        ))),
        Err(e) => Err(Error::input(format!("-o {}: {e}", out.display()))),
    }
}

/// stdout: the destination, or the official CLI's JSON document (one-space indent, as it
/// prints it).
fn print(summary: &Summary, json: bool) -> Result<()> {
    let mut text = if json {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        serde::Serialize::serialize(summary, &mut ser)
            .map_err(|e| Error::Unexpected(format!("printing the summary: {e}")))?;
        String::from_utf8_lossy(&buf).into_owned()
    } else {
        summary.destination.display().to_string()
    };
    text.push('\n');
    output::deliver(None, text.as_bytes()).map(|_| ())
}
