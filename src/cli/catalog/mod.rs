//! The read commands: `model list`, `checkpoint list|info`, `training-run list|info` and
//! `auth status` — validated here, fetched by the client's catalog, printed as a table or JSON.

mod args;
mod table;

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

pub use args::{
    AuthArgs, AuthCommand, CheckpointArgs, CheckpointCommand, ModelArgs, ModelCommand, ReadArgs,
    TrainingRunArgs, TrainingRunCommand,
};
use args::{Connect, ConnectionFlags};

use super::logging::{self, STATUS_TARGET};
use super::settings::{Verbosity, DEFAULT_TIMEOUT};
use super::sink;
use crate::client::{CatalogClient, CheckpointPath, Config, Listing};
use crate::error::{Error, Result};
use crate::Deadline;

/// The default `--limit` of the list commands.
pub const DEFAULT_LIMIT: u64 = 20;

/// What to fetch, validated.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    Models { filter: Option<String> },
    Checkpoints { limit: Option<u64> },
    RunCheckpoints { run_id: String },
    CheckpointInfo { path: CheckpointPath },
    Runs { limit: Option<u64> },
    RunInfo { id: String },
    AuthStatus,
}

/// A read command, validated: what to fetch, how to print it, how to connect.
#[derive(Debug, Clone)]
struct ReadCommand {
    action: Action,
    json: bool,
    api_key: Option<String>,
    base_url: Option<String>,
    timeout: Duration,
    verbosity: Verbosity,
}

/// Runs a read command and returns the process exit code.
pub fn main(args: ReadArgs) -> i32 {
    let command = match ReadCommand::try_from(args) {
        Ok(command) => command,
        Err(error) => return super::report(&error),
    };
    logging::init(command.verbosity);
    match execute(&command) {
        Ok(()) => 0,
        Err(error) => super::report(&error),
    }
}

fn usage(message: String, help: &str) -> Error {
    Error::Input {
        message,
        hint: Some(format!(
            "run 'tinkex {help} --help' for the flags and an example"
        )),
    }
}

/// `--limit`: 0 means all; absent means [`DEFAULT_LIMIT`].
fn limit(given: Option<u64>) -> Option<u64> {
    match given.unwrap_or(DEFAULT_LIMIT) {
        0 => None,
        n => Some(n),
    }
}

fn non_empty(value: String, what: &str, help: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Err(usage(format!("{what} is empty"), help));
    }
    Ok(value)
}

impl TryFrom<ReadArgs> for ReadCommand {
    type Error = Error;

    fn try_from(args: ReadArgs) -> Result<ReadCommand> {
        let (action, json, flags, help) = match args {
            ReadArgs::Model(ModelArgs {
                command: ModelCommand::List(a),
            }) => {
                let filter = a.filter.clone();
                (
                    Action::Models { filter },
                    a.json,
                    a.connection(),
                    "model list",
                )
            }
            ReadArgs::Checkpoint(CheckpointArgs { command }) => match command {
                CheckpointCommand::List(a) => {
                    const HELP: &str = "checkpoint list";
                    let action = match a.run_id.clone() {
                        Some(id) => Action::RunCheckpoints {
                            run_id: non_empty(id, "--run-id", HELP)?,
                        },
                        None => Action::Checkpoints {
                            limit: limit(a.limit),
                        },
                    };
                    (action, a.json, a.connection(), HELP)
                }
                CheckpointCommand::Info(a) => {
                    let path = CheckpointPath::parse(&a.tinker_path).ok_or_else(|| {
                        Error::Input {
                        message: format!("invalid checkpoint path '{}'", a.tinker_path),
                        hint: Some(
                            "give tinker://RUN/KIND/NAME, KIND one of weights, sampler_weights, \
                             external_weights (see 'tinkex checkpoint list')"
                                .into(),
                        ),
                    }
                    })?;
                    let action = Action::CheckpointInfo { path };
                    (action, a.json, a.connection(), "checkpoint info")
                }
            },
            ReadArgs::TrainingRun(TrainingRunArgs { command }) => match command {
                TrainingRunCommand::List(a) => {
                    let action = Action::Runs {
                        limit: limit(a.limit),
                    };
                    (action, a.json, a.connection(), "training-run list")
                }
                TrainingRunCommand::Info(a) => {
                    let id = non_empty(a.id.clone(), "the run id", "training-run info")?;
                    (
                        Action::RunInfo { id },
                        a.json,
                        a.connection(),
                        "training-run info",
                    )
                }
            },
            ReadArgs::Auth(AuthArgs {
                command: AuthCommand::Status(a),
            }) => (Action::AuthStatus, false, a.connection(), "auth status"),
        };
        let ConnectionFlags {
            api_key,
            base_url,
            timeout,
            quiet,
            verbose,
        } = flags;
        if quiet && verbose > 0 {
            return Err(usage(
                "give either --quiet or --verbose, not both".into(),
                help,
            ));
        }
        Ok(ReadCommand {
            action,
            json,
            api_key,
            base_url,
            timeout: timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
            verbosity: match (quiet, verbose) {
                (true, _) => Verbosity::Quiet,
                (false, 0) => Verbosity::Normal,
                (false, n) => Verbosity::Verbose(n),
            },
        })
    }
}

fn execute(command: &ReadCommand) -> Result<()> {
    let deadline = Deadline::after(command.timeout);
    let config = Config::from_env(
        command.api_key.clone(),
        command.base_url.clone(),
        deadline,
        2,
    )?;
    let catalog = CatalogClient::connect(config)?;
    let output = match &command.action {
        Action::Models { filter } => models(&catalog, filter.as_deref(), command.json)?,
        Action::Checkpoints { limit } => {
            let listing = catalog.checkpoints(*limit)?;
            note_more(&listing, "checkpoints");
            let rows = listing.items.iter().map(table::checkpoint_row).collect();
            listed(
                command.json,
                &json!({ "checkpoints": listing.items }),
                &table::CHECKPOINT_COLUMNS,
                rows,
            )
        }
        Action::RunCheckpoints { run_id } => {
            let items = catalog.run_checkpoints(run_id)?;
            if items.is_empty() {
                log::info!(target: STATUS_TARGET, "run {run_id} has no checkpoints");
            }
            let rows = items.iter().map(table::checkpoint_row).collect();
            let doc = json!({ "run_id": run_id, "checkpoints": items });
            listed(command.json, &doc, &table::CHECKPOINT_COLUMNS, rows)
        }
        Action::CheckpointInfo { path } => {
            let info = catalog.checkpoint_info(path)?;
            let rows = table::checkpoint_info(&info, &path.training_run_id);
            shown(command.json, &info, rows)
        }
        Action::Runs { limit } => {
            let listing = catalog.training_runs(*limit)?;
            note_more(&listing, "training runs");
            let rows = listing.items.iter().map(table::run_row).collect();
            listed(
                command.json,
                &json!({ "runs": listing.items }),
                &table::RUN_COLUMNS,
                rows,
            )
        }
        Action::RunInfo { id } => {
            let run = catalog.training_run(id)?;
            let rows = table::run_info(&run);
            shown(command.json, &run, rows)
        }
        Action::AuthStatus => {
            catalog.check_access()?;
            format!(
                "The credential from {} works: {} accepted it.\n",
                catalog.credential_source(),
                catalog.base_url()
            )
        }
    };
    sink::to_stdout(crate::redact::scrub(&output).as_bytes())?;
    Ok(())
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
