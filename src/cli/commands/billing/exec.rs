//! `tinkex billing …`'s execution: one read, then the CSV files (each with the one atomic
//! write) and the table or the official CLI's JSON document on stdout.

use std::path::Path;

use super::config::{Action, Config};
use super::table;
use crate::cli::logging::{self, STATUS_TARGET};
use crate::cli::sink;
use crate::client::{official, BillingClient};
use crate::error::{Error, Result};
use crate::Deadline;

/// Runs `tinkex billing …` from its validated config.
pub fn execute(config: &Config) -> Result<()> {
    logging::init(config.verbosity);
    let conn = &config.connection;
    let deadline = Deadline::after(conn.timeout);
    let client_config =
        crate::client::Config::from_env(conn.api_key.clone(), conn.base_url.clone(), deadline, 2)?;
    let client = BillingClient::connect(client_config)?;
    let text = match &config.action {
        Action::Usage {
            window,
            csv,
            sessions_csv,
        } => {
            let usage = client.usage(*window)?;
            if let Some(path) = csv {
                write_csv(
                    "--csv",
                    path,
                    &official::usage_csv(&usage),
                    usage.data.len(),
                )?;
            }
            if let Some(path) = sessions_csv {
                let rows = usage.sessions.len();
                write_csv(
                    "--sessions-csv",
                    path,
                    &official::sessions_csv(&usage),
                    rows,
                )?;
            }
            match config.json {
                true => document(&official::usage_document(&usage)),
                false => table::usage(&usage, *window),
            }
        }
        Action::Storage { project_id, csv } => {
            let storage = client.checkpoint_storage(project_id.as_deref())?;
            if let Some(path) = csv {
                let rows = storage.data.len();
                write_csv("--csv", path, &official::storage_csv(&storage), rows)?;
            }
            match config.json {
                true => document(&official::storage_document(&storage)),
                false => table::storage(&storage),
            }
        }
    };
    sink::to_stdout(crate::redact::scrub(&text).as_bytes()).map(drop)
}

/// The official CLI's `-f json` text: Python's `json.dumps(…, indent=2)` and a newline.
fn document(value: &serde_json::Value) -> String {
    format!("{}\n", official::python_json(value, Some(2)))
}

fn write_csv(flag: &str, path: &Path, text: &str, rows: usize) -> Result<()> {
    let text = crate::redact::scrub(text);
    crate::atomic::write_bytes(path, text.as_bytes(), crate::atomic::Durability::Synced)
        .map_err(|e| Error::io(format!("{flag} {}: cannot write", path.display()), e))?;
    log::info!(target: STATUS_TARGET, "wrote {rows} rows to {}", path.display());
    Ok(())
}
