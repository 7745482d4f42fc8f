//! The read commands: `model list`, `checkpoint list|info`, `training-run list|info` and
//! `auth status` — validated here, fetched by the client's catalog, printed as a table or JSON.

pub mod command;
pub mod table;

use serde::Serialize;
use serde_json::json;

pub use command::{Action, ReadCommand};

use super::logging::STATUS_TARGET;
use super::sink;
use crate::client::{CatalogClient, Config, Listing};
use crate::error::{Error, Result};
use crate::Deadline;

/// Runs a validated read command: fetch, then print a table or JSON on stdout.
pub fn execute(command: &ReadCommand) -> Result<()> {
    let deadline = Deadline::after(command.timeout);
    let (key, url) = (command.api_key.clone(), command.base_url.clone());
    let config = Config::from_env(key, url, deadline, 2)?;
    let catalog = match command.action {
        // `auth status` is one attempt of each request: it answers "does it work?" at once.
        Action::AuthStatus => CatalogClient::connect_once(config)?,
        _ => CatalogClient::connect(config)?,
    };
    let json = command.json;
    let output = match &command.action {
        Action::Models { filter } => models(&catalog, filter.as_deref(), json)?,
        Action::Checkpoints { limit } => {
            let listing = catalog.checkpoints(*limit).map_err(no_global_listing)?;
            note_more(&listing, "checkpoints");
            let rows = listing.items.iter().map(table::checkpoint_row).collect();
            let doc = json!({ "checkpoints": listing.items });
            listed(json, &doc, &table::CHECKPOINT_COLUMNS, rows)
        }
        Action::RunCheckpoints { run_id } => {
            let items = catalog.run_checkpoints(run_id)?;
            if items.is_empty() {
                log::info!(target: STATUS_TARGET, "run {run_id} has no checkpoints");
            }
            let rows = items.iter().map(table::checkpoint_row).collect();
            let doc = json!({ "run_id": run_id, "checkpoints": items });
            listed(json, &doc, &table::CHECKPOINT_COLUMNS, rows)
        }
        Action::CheckpointInfo { path } => {
            let info = catalog.checkpoint_info(path)?;
            let rows = table::checkpoint_info(&info, &path.training_run_id);
            shown(json, &info, rows)
        }
        Action::Runs { limit } => {
            let listing = catalog.training_runs(*limit)?;
            note_more(&listing, "training runs");
            let rows = listing.items.iter().map(table::run_row).collect();
            listed(
                json,
                &json!({ "runs": listing.items }),
                &table::RUN_COLUMNS,
                rows,
            )
        }
        Action::RunInfo { id } => {
            let run = catalog.training_run(id)?;
            let rows = table::run_info(&run);
            shown(json, &run, rows)
        }
        Action::AuthStatus => auth_status(&catalog)?,
    };
    sink::to_stdout(crate::redact::scrub(&output).as_bytes())?;
    Ok(())
}

/// A server without the listing of all checkpoints (404, as SkyRL) still lists one run's.
fn no_global_listing(error: Error) -> Error {
    match error {
        Error::Api {
            status: Some(404),
            message,
            ..
        } => Error::Input {
            message: format!("{message}: this server cannot list all checkpoints at once"),
            hint: Some(
                "list one run's checkpoints with --run-id RUN_ID (the ids: tinkex training-run list)"
                    .into(),
            ),
        },
        other => other,
    }
}

/// One line saying the credential works and where it came from (never the credential).
fn auth_status(catalog: &CatalogClient) -> Result<String> {
    catalog.check_access()?;
    Ok(format!(
        "The credential from {} works: {} accepted it.\n",
        catalog.credential_source(),
        catalog.base_url()
    ))
}

fn models(catalog: &CatalogClient, filter: Option<&str>, json: bool) -> Result<String> {
    let mut models = catalog.models()?;
    if let Some(filter) = filter {
        let needle = filter.to_lowercase();
        models.retain(|m| {
            m.model_name
                .as_deref()
                .is_some_and(|name| name.to_lowercase().contains(&needle))
        });
        if models.is_empty() {
            return Err(Error::Input {
                message: format!("no model name contains '{filter}'"),
                hint: Some("run 'tinkex model list' to see every model".into()),
            });
        }
    }
    let rows = models.iter().map(table::model_row).collect();
    Ok(listed(
        json,
        &json!({ "models": models }),
        &table::MODEL_COLUMNS,
        rows,
    ))
}

/// A note on stderr when the listing stopped short of what the server has.
fn note_more<T>(listing: &Listing<T>, what: &str) {
    let shown = listing.items.len() as u64;
    if shown == 0 {
        log::info!(target: STATUS_TARGET, "no {what} found");
    } else if listing.total_count > shown {
        log::info!(
            target: STATUS_TARGET,
            "showing {shown} of {} {what}; --limit N shows more, --limit 0 all",
            listing.total_count
        );
    }
}

/// A list as one pretty JSON document or a table with a header.
fn listed(json: bool, doc: &serde_json::Value, header: &[&str], rows: Vec<Vec<String>>) -> String {
    if json {
        return pretty(doc);
    }
    table::render(Some(header), &rows)
}

/// One object as pretty JSON, or its key/value rows.
fn shown<T: Serialize>(json: bool, value: &T, rows: Vec<Vec<String>>) -> String {
    if json {
        return pretty(value);
    }
    table::render(None, &rows)
}

fn pretty<T: Serialize>(value: &T) -> String {
    // Our own types always serialize; the fallback only keeps the signature simple.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}
