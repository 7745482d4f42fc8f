//! The one list of commands (the top-level argh enum) and the one dispatch: every command is
//! its flags (`args.rs`), their validation into a `Config` (`config.rs`) and `execute`
//! (`exec.rs`), in its own folder. Only the entry point (`cli/mod.rs`) imports this module.

mod auth;
mod billing;
mod cache;
mod checkpoint;
mod merge;
mod model;
mod prefetch;
mod run;
mod score;
mod training_run;
mod version;

use argh::FromArgs;

use super::flags::command_help::command_help;
use super::flags::help;
use super::flags::prepass::{self, Stop};
use super::logging::report;
use crate::error::{Error, Result};

#[derive(FromArgs, Debug)]
/// A fast, synchronous command-line client for the Tinker sampling API.
#[argh(
    example = "tinkex run --base-model Qwen/Qwen3-8B --prompt \"Hello\" --max-tokens 64",
    note = "Run 'tinkex run --help' (or 'tinkex help run') for the sampling flags, exit codes and environment variables. Every command with --json also takes the official CLI's -f json and --format json|table, before or after the command."
)]
pub struct TopLevel {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// The subcommands.
pub enum Command {
    /// `tinkex run`
    Run(Box<run::Args>),
    /// `tinkex version`
    Version(version::Args),
    /// `tinkex score`
    Score(Box<score::Args>),
    /// `tinkex model …`
    Model(model::Args),
    /// `tinkex checkpoint …`
    Checkpoint(checkpoint::Args),
    /// `tinkex training-run …`
    TrainingRun(training_run::Args),
    /// `tinkex auth …`
    Auth(auth::Args),
    /// `tinkex cache`
    Cache(cache::Args),
    /// `tinkex prefetch`
    Prefetch(prefetch::Args),
    /// `tinkex merge`
    Merge(merge::Args),
    /// `tinkex billing …`
    Billing(billing::Args),
}

/// Parses the full argv (program name first), runs the command, and returns the exit code.
pub fn main(argv: &[String]) -> i32 {
    let command = match parse(argv) {
        Ok(command) => command,
        Err(Stop::Help(text)) => {
            print!("{text}");
            return 0;
        }
        Err(Stop::Usage(error)) => return report(&usage_for_command(error, argv)),
    };
    dispatch(command).map_or_else(|error| report(&usage_for_command(error, argv)), |()| 0)
}

/// The one dispatch: every arm validates its command's flags, then executes its config.
fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Run(args) => run::Config::try_from(*args).and_then(|c| run::execute(&c)),
        Command::Version(args) => {
            version::Config::try_from(args).and_then(|c| version::execute(&c))
        }
        Command::Score(args) => score::Config::try_from(*args).and_then(|c| score::execute(&c)),
        Command::Model(args) => model::Config::try_from(args).and_then(|c| model::execute(&c)),
        Command::Checkpoint(args) => {
            checkpoint::Config::try_from(args).and_then(|c| checkpoint::execute(&c))
        }
        Command::TrainingRun(args) => {
            training_run::Config::try_from(args).and_then(|c| training_run::execute(&c))
        }
        Command::Auth(args) => auth::Config::try_from(args).and_then(|c| auth::execute(&c)),
        Command::Cache(args) => cache::Config::try_from(args).and_then(|c| cache::execute(&c)),
        Command::Prefetch(args) => {
            prefetch::Config::try_from(args).and_then(|c| prefetch::execute(&c))
        }
        Command::Merge(args) => merge::Config::try_from(args).and_then(|c| merge::execute(&c)),
        Command::Billing(args) => {
            billing::Config::try_from(args).and_then(|c| billing::execute(&c))
        }
    }
}

/// The command argv names, `tinkex --version` as `version`; help and usage errors as [`Stop`].
fn parse(argv: &[String]) -> std::result::Result<Command, Stop> {
    match prepass::parse::<TopLevel>(argv, own_help)? {
        TopLevel {
            command: Some(command),
            ..
        } => Ok(command),
        TopLevel { version: true, .. } => Ok(Command::Version(version::Args::default())),
        TopLevel { version: false, .. } => Err(Stop::Usage(Error::usage(
            "no command given (tinkex run … samples; tinkex version prints the version)",
        ))),
    }
}

/// Every command's `--help`, regrouped with value names: `run`'s from its own table, the
/// others' from their flags' places in it.
fn own_help(path: &[&str], argh_text: &str) -> Option<String> {
    if path == ["run"] {
        return Some(help::run_help(argh_text));
    }
    Some(command_help(path, argh_text))
}

/// The help argh itself writes for `run` (its descriptions, examples, notes, exit codes).
#[cfg(test)]
fn argh_run_help() -> String {
    prepass::help_of::<run::Args>(&["tinkex", "run"], &[])
}

/// A usage error's hint names the command typed (`tinkex model list --help`), not always
/// `run`, whether argh or the command's own checks found it.
fn usage_for_command(error: Error, argv: &[String]) -> Error {
    let args: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let path = prepass::command_path(&args, prepass::help_at::<TopLevel>);
    let command = path.first().copied().unwrap_or_default();
    match error {
        Error::Usage(message) if command == "score" => score::usage(message),
        Error::Usage(message) if command != "run" && !command.is_empty() => Error::Input {
            message,
            hint: Some(format!(
                "run 'tinkex {} --help' for its flags and an example",
                path.join(" ")
            )),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests;
