//! `tinkex billing …`'s flags validated into its [`Config`]: the usage window (as the SDK
//! documents it) and the CSV destinations are checked before any request.

use std::path::{Path, PathBuf};

use super::args::{Args, BillingCommand, BillingUsage};
use crate::cli::catalog::command::usage;
use crate::cli::flags::groups::{Connection, ConnectionFlags, VerbosityFlags};
use crate::cli::settings::Verbosity;
use crate::client::billing::Window;
use crate::client::when;
use crate::error::{Error, Result};

/// `tinkex billing …`, validated.
#[derive(Debug)]
pub struct Config {
    /// What to fetch and where CSV goes.
    pub action: Action,
    /// `--json`.
    pub json: bool,
    /// `--api-key`, `--base-url`, `--timeout`.
    pub connection: Connection,
    /// stderr detail.
    pub verbosity: Verbosity,
}

/// The two reads.
#[derive(Debug)]
pub enum Action {
    /// `usage`: the window, `--csv`, `--sessions-csv`.
    Usage {
        window: Window,
        csv: Option<PathBuf>,
        sessions_csv: Option<PathBuf>,
    },
    /// `checkpoint-storage`: `--project-id`, `--csv`.
    Storage {
        project_id: Option<String>,
        csv: Option<PathBuf>,
    },
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        match args.command {
            BillingCommand::Usage(a) => {
                let (c, v) = (a.connection(), a.verbosity());
                build("billing usage", usage_action(&a), a.json, &c, &v)
            }
            BillingCommand::CheckpointStorage(a) => {
                let action = storage_action(a.project_id.clone(), a.csv.clone());
                let (c, v) = (a.connection(), a.verbosity());
                build("billing checkpoint-storage", action, a.json, &c, &v)
            }
        }
    }
}

fn build(
    help: &str,
    action: Result<Action>,
    json: bool,
    connection: &ConnectionFlags,
    verbosity: &VerbosityFlags,
) -> Result<Config> {
    let hinted = |error: Error| match error {
        Error::Usage(message) => usage(message, help),
        other => other,
    };
    Ok(Config {
        action: action.map_err(hinted)?,
        json,
        verbosity: verbosity.validate().map_err(hinted)?,
        connection: connection.validate().map_err(hinted)?,
    })
}

fn usage_action(a: &BillingUsage) -> Result<Action> {
    let now = when::now_secs();
    let window = match (a.window.as_slice(), &a.last) {
        ([start, end], None) => Window::parse(start, end, now)?,
        ([], Some(last)) => Window::last(last, now)?,
        ([_], None) => return Err(Error::usage("END is missing: give START END")),
        ([_, _, _, ..], None) => return Err(Error::usage("give two times, START END, not more")),
        ([], None) => {
            return Err(Error::usage(
                "give the window: START END (e.g. 2026-07-13 2026-07-14) or --last 24h",
            ))
        }
        _ => return Err(Error::usage("give either START END or --last, not both")),
    };
    check_csv("--csv", a.csv.as_deref())?;
    check_csv("--sessions-csv", a.sessions_csv.as_deref())?;
    if a.csv.is_some() && a.csv == a.sessions_csv {
        return Err(Error::usage("--csv and --sessions-csv name the same file"));
    }
    Ok(Action::Usage {
        window,
        csv: a.csv.clone(),
        sessions_csv: a.sessions_csv.clone(),
    })
}

fn storage_action(project_id: Option<String>, csv: Option<PathBuf>) -> Result<Action> {
    if project_id.as_deref().is_some_and(|p| p.trim().is_empty()) {
        return Err(Error::usage("--project-id is empty"));
    }
    check_csv("--csv", csv.as_deref())?;
    Ok(Action::Storage { project_id, csv })
}

/// A CSV destination must be a file name in a directory that exists (checked before any
/// request, so a typo costs no billing call).
fn check_csv(flag: &str, path: Option<&Path>) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let shown = path.display();
    if path.as_os_str().is_empty() || path.is_dir() {
        return Err(Error::usage(format!("{flag} {shown}: not a file name")));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(Error::usage(format!(
            "{flag} {shown}: the directory {} does not exist",
            dir.display()
        ))),
        _ => Ok(()),
    }
}
