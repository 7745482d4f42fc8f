//! `tinkex checkpoint …`'s flags validated into its [`Config`] (`download`'s in its folder): every check of the lifecycle
//! subcommands (paths, TTL, TIME, selection flags, `--yes` off a terminal) runs here, before
//! any request, so a refusal sends nothing at all.

use std::io::IsTerminal;

use super::args::{Args, CheckpointCommand, CheckpointDelete, CheckpointSetTtl};
use crate::cli::catalog::command::{checkpoint_path, limit, non_empty, usage};
use crate::cli::catalog::{Action, ReadCommand};
use crate::cli::flags::groups::{Connection, ConnectionFlags, VerbosityFlags};
use crate::cli::settings::Verbosity;
use crate::client::lifecycle::{self, Selection};
use crate::client::CheckpointPath;
use crate::error::{Error, Result};

/// `tinkex checkpoint …`, validated.
#[derive(Debug)]
pub enum Config {
    /// `list` and `info`: a catalog read.
    Read(ReadCommand),
    /// `publish`, `unpublish`, `set-ttl`, `delete`.
    Write(WriteCommand),
    /// `download`.
    Download(super::download::Config),
}

/// A lifecycle subcommand, validated.
#[derive(Debug)]
pub struct WriteCommand {
    /// What to do.
    pub action: WriteAction,
    /// `--json`.
    pub json: bool,
    /// `--api-key`, `--base-url`, `--timeout`.
    pub connection: Connection,
    /// stderr detail.
    pub verbosity: Verbosity,
}

/// The lifecycle operations.
#[derive(Debug)]
pub enum WriteAction {
    /// `publish PATH...`
    Publish(Vec<CheckpointPath>),
    /// `unpublish PATH...`
    Unpublish(Vec<CheckpointPath>),
    /// `set-ttl PATH... --ttl D | --remove` (`None`: remove the expiry).
    SetTtl(Vec<CheckpointPath>, Option<u64>),
    /// `delete`.
    Delete(DeleteCommand),
}

/// `delete`'s target and how it is confirmed.
#[derive(Debug)]
pub struct DeleteCommand {
    /// The paths given, or a run's selection.
    pub target: Target,
    /// `--yes`.
    pub yes: bool,
    /// `--dry-run` (wins over `--yes`).
    pub dry_run: bool,
}

/// What `delete` deletes.
#[derive(Debug)]
pub enum Target {
    /// Paths from the command line.
    Paths(Vec<CheckpointPath>),
    /// `--run-id` and its filters.
    Run(String, Selection),
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let write = |help: &str, action: Result<WriteAction>, json, c, v| {
            write_command(help, action, json, c, v).map(Config::Write)
        };
        match args.command {
            CheckpointCommand::Download(a) => {
                super::download::Config::try_from(a).map(Config::Download)
            }
            CheckpointCommand::List(a) => {
                const HELP: &str = "checkpoint list";
                // As in the official CLI, --limit has no effect with --run-id (no paging there).
                let action = match a.run_id.clone() {
                    Some(id) => Action::RunCheckpoints {
                        run_id: non_empty(id, "--run-id", HELP)?,
                    },
                    None => Action::Checkpoints {
                        limit: limit(a.limit),
                    },
                };
                ReadCommand::new(action, a.json, &a.connection(), &a.verbosity(), HELP)
                    .map(Config::Read)
            }
            CheckpointCommand::Info(a) => {
                let action = Action::CheckpointInfo {
                    path: checkpoint_path(&a.tinker_path)?,
                };
                let help = "checkpoint info";
                ReadCommand::new(action, a.json, &a.connection(), &a.verbosity(), help)
                    .map(Config::Read)
            }
            CheckpointCommand::Publish(a) => {
                let paths = paths(&a.paths, "checkpoint publish").map(WriteAction::Publish);
                write(
                    "checkpoint publish",
                    paths,
                    a.json,
                    &a.connection(),
                    &a.verbosity(),
                )
            }
            CheckpointCommand::Unpublish(a) => {
                let paths = paths(&a.paths, "checkpoint unpublish").map(WriteAction::Unpublish);
                write(
                    "checkpoint unpublish",
                    paths,
                    a.json,
                    &a.connection(),
                    &a.verbosity(),
                )
            }
            CheckpointCommand::SetTtl(a) => {
                let (c, v) = (a.connection(), a.verbosity());
                write("checkpoint set-ttl", set_ttl(&a), a.json, &c, &v)
            }
            CheckpointCommand::Delete(a) => {
                let (c, v) = (a.connection(), a.verbosity());
                write("checkpoint delete", delete(&a), a.json, &c, &v)
            }
        }
    }
}

/// The shared flags checked after the subcommand's own, every usage error hinted at `help`.
fn write_command(
    help: &str,
    action: Result<WriteAction>,
    json: bool,
    connection: &ConnectionFlags,
    verbosity: &VerbosityFlags,
) -> Result<WriteCommand> {
    let hinted = |error: Error| match error {
        Error::Usage(message) => usage(message, help),
        other => other,
    };
    let action = action.map_err(hinted)?;
    Ok(WriteCommand {
        action,
        json,
        verbosity: verbosity.validate().map_err(hinted)?,
        connection: connection.validate().map_err(hinted)?,
    })
}

/// At least one path, each a checkpoint path.
fn paths(given: &[String], help: &str) -> Result<Vec<CheckpointPath>> {
    if given.is_empty() {
        return Err(Error::usage(format!(
            "give at least one checkpoint path (tinker://RUN/KIND/NAME) to '{help}'"
        )));
    }
    given
        .iter()
        .map(|p| lifecycle::parse_path(p, "PATH"))
        .collect()
}

fn set_ttl(a: &CheckpointSetTtl) -> Result<WriteAction> {
    let ttl = match (&a.ttl, a.remove) {
        (Some(_), true) => return Err(Error::usage("give either --ttl or --remove, not both")),
        (None, false) => {
            return Err(Error::usage(
                "--ttl DURATION or --remove is required (e.g. --ttl 7d)",
            ))
        }
        (None, true) => None,
        (Some(text), false) => {
            let secs = crate::client::when::parse_duration(text).ok_or_else(|| {
                Error::usage(format!(
                    "--ttl: '{}' is not a duration (seconds, or a number with s, m, h, d, w: 36h, 7d)",
                    crate::redact::server_text(text)
                ))
            })?;
            Some(lifecycle::check_ttl(secs)?)
        }
    };
    Ok(WriteAction::SetTtl(
        paths(&a.paths, "checkpoint set-ttl")?,
        ttl,
    ))
}

fn delete(a: &CheckpointDelete) -> Result<WriteAction> {
    let target = match &a.run_id {
        None => {
            let flags = [
                ("--type", a.checkpoint_type.is_some()),
                ("--before", a.before.is_some()),
                ("--after", a.after.is_some()),
                ("--keep-last", a.keep_last.is_some()),
            ];
            if let Some((flag, _)) = flags.iter().find(|(_, given)| *given) {
                return Err(Error::usage(format!(
                    "{flag} selects among one run's checkpoints: give --run-id RUN too"
                )));
            }
            Target::Paths(paths(&a.paths, "checkpoint delete")?)
        }
        Some(run_id) => {
            if !a.paths.is_empty() {
                return Err(Error::usage("give checkpoint paths or --run-id, not both"));
            }
            if run_id.trim().is_empty() || run_id.contains('/') {
                return Err(Error::usage("--run-id: not a training run id"));
            }
            Target::Run(run_id.clone(), selection(a)?)
        }
    };
    if !a.yes && !a.dry_run && !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "checkpoint delete is irreversible: pass --yes to delete, or --dry-run to see \
             what would be deleted (stdin is not a terminal, so tinkex cannot ask)",
        ));
    }
    Ok(WriteAction::Delete(DeleteCommand {
        target,
        yes: a.yes,
        dry_run: a.dry_run,
    }))
}

fn selection(a: &CheckpointDelete) -> Result<Selection> {
    let checkpoint_type = match &a.checkpoint_type {
        None => None,
        Some(t) => Some(lifecycle::checkpoint_type(t).ok_or_else(|| {
            Error::usage(format!(
                "--type: '{}' is not a checkpoint type (weights, sampler_weights, external_weights)",
                crate::redact::server_text(t)
            ))
        })?),
    };
    let time = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| lifecycle::parse_time_flag(flag, t))
            .transpose()
    };
    Ok(Selection {
        checkpoint_type,
        before: time("--before", &a.before)?,
        after: time("--after", &a.after)?,
        keep_last: a.keep_last,
    })
}
