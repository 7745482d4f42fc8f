//! The command-line layer: flags, validation, logging and output; everything a user sees.

mod args;
mod batch;
mod catalog;
mod chat;
mod encode;
mod help;
mod live;
mod logging;
mod output;
mod prepare;
mod prompt;
mod run;
mod score;
mod settings;
mod signals;
mod sink;
mod suggest;
mod tokenizers;
mod values;
mod version;

use std::panic::{self, AssertUnwindSafe};

use crate::error::{Error, Result};
use crate::redact;
use args::Parsed;
use logging::report;
use settings::{Mode, RunConfig};

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // A panic is a bug: report one line instead of Rust's dump, and exit 1.
    panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        eprintln!(
            "tinkex: error: internal error: {} (please report this)",
            redact::scrub(&message)
        );
    }));
    signals::install();
    panic::catch_unwind(AssertUnwindSafe(|| dispatch(&argv))).unwrap_or(1)
}

fn dispatch(argv: &[String]) -> i32 {
    match args::parse(argv) {
        Parsed::Version(version_args) => {
            print!("{}", version::text(&version_args));
            0
        }
        Parsed::Help(output) => {
            print!("{output}");
            0
        }
        Parsed::Usage(error) => report(&usage_for_command(error, argv)),
        Parsed::Merge(merge) => merge_command(*merge),
        Parsed::Read(read) => catalog::main(*read),
        Parsed::Tokenizers(command) => tokenizers::execute(command).unwrap_or_else(|e| report(&e)),
        Parsed::Run(run_args) => {
            let config = match RunConfig::try_from(*run_args) {
                Ok(config) => config,
                Err(error) => return report(&error),
            };
            logging::init(config.verbosity);
            let code = match execute(&config) {
                Ok(()) => 0,
                Err(error) => report(&error),
            };
            crate::tokenizer::finish_cache_writes();
            code
        }
        Parsed::Score(score_args) => {
            let config = match score::ScoreConfig::try_from(*score_args) {
                Ok(config) => config,
                Err(error) => return report(&error),
            };
            logging::init(config.run.verbosity);
            score::execute(&config).map_or_else(|error| report(&error), |()| 0)
        }
    }
}

/// A usage error's hint names the command typed (`tinkex score --help`), not always `run`.
fn usage_for_command(error: Error, argv: &[String]) -> Error {
    let command = argv.get(1).map(String::as_str).unwrap_or_default();
    match error {
        Error::Usage(message) if command == "score" => score::usage(message),
        Error::Usage(message)
            if command != "run"
                && command.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !command.is_empty() =>
        {
            Error::Input {
                message,
                hint: Some(format!(
                    "run 'tinkex {command} --help' for its flags and an example"
                )),
            }
        }
        other => other,
    }
}

/// `tinkex merge`: makes no request, so it needs no key.
fn merge_command(args: args::MergeArgs) -> i32 {
    let config = batch::merge_cmd::MergeConfig::new(
        args.input,
        args.journals,
        args.output,
        args.allow_missing,
    );
    logging::init(match (args.quiet, args.verbose) {
        (true, _) => settings::Verbosity::Quiet,
        (false, 0) => settings::Verbosity::Normal,
        (false, n) => settings::Verbosity::Verbose(n),
    });
    match config.and_then(|config| batch::merge_cmd::execute(&config)) {
        Ok(()) => 0,
        Err(error) => report(&error),
    }
}

/// Runs `tinkex run` in its mode: one prompt, a batch, or the prompt printed.
fn execute(config: &RunConfig) -> Result<()> {
    match &config.mode {
        Mode::Single(source) => run::execute(config, source.as_ref()),
        Mode::Batch(batch) => batch::execute(config, batch),
        Mode::PrintPrompt(source) => chat::print_prompt(config, source.as_ref()),
    }
}
