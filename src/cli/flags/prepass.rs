//! The pre-pass argh lacks: GNU `--flag=value`, `-vv` and `-h`, `--help` text as stdout, and a
//! usage error that suggests the flag or command meant. Generic over the top-level struct.

use argh::{FromArgs, TopLevelCommand};

use super::suggest;
use crate::error::Error;

/// Why parsing stopped without a command: help for stdout (exit 0) or a usage error (exit 2).
#[derive(Debug)]
pub enum Stop {
    /// `--help`: the text for stdout.
    Help(String),
    /// A usage error, with a suggestion when a flag or command was mistyped.
    Usage(Error),
}

/// Parses the full argv (program name first) into `T`; `own_help` may answer `--help` for a
/// command whose help argh does not write alone (`run`'s grouped help).
pub fn parse<T: TopLevelCommand>(
    argv: &[String],
    own_help: impl Fn(&[&str]) -> Option<String>,
) -> Result<T, Stop> {
    let args = normalize(argv.get(1..).unwrap_or_default());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(text) = own_help(&args) {
        return Err(Stop::Help(text));
    }
    T::from_args(&["tinkex"], &args).map_err(|exit| match exit.status {
        Ok(()) => Stop::Help(exit.output),
        Err(()) => {
            let (flags, commands) = suggest::known_at(&args, help_at::<T>);
            Stop::Usage(suggest::usage_error(&exit.output, &flags, &commands))
        }
    })
}

/// argh's help text for the command `T` parsed from `path` (empty when there is none).
pub fn help_at<T: FromArgs>(path: &[&str]) -> String {
    help_of::<T>(&["tinkex"], path)
}

/// argh's own `--help` text for `T` called as `command` with `path` (empty when none).
pub fn help_of<T: FromArgs>(command: &[&str], path: &[&str]) -> String {
    let mut args = path.to_vec();
    args.push("--help");
    match T::from_args(command, &args) {
        Err(exit) => exit.output,
        Ok(_) => String::new(),
    }
}

/// Splits GNU-style `--flag=value` and expands `-vv`, leaving flag values untouched.
fn normalize(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut value_expected = false;
    let mut options_ended = false;
    for arg in args {
        if value_expected || options_ended {
            value_expected = false;
            out.push(arg.clone());
            continue;
        }
        if arg == "--" {
            options_ended = true;
            out.push(arg.clone());
        } else if arg == "-h" {
            // Every user types it; argh only knows `--help`.
            out.push("--help".into());
        } else if let Some((flag, value)) =
            arg.strip_prefix("--").and_then(|rest| rest.split_once('='))
        {
            out.push(format!("--{flag}"));
            out.push(value.to_string());
        } else if arg.len() > 2
            && arg.starts_with('-')
            && !arg.starts_with("--")
            && arg[1..].chars().all(|c| c == 'v')
        {
            out.extend(std::iter::repeat_n("-v".to_string(), arg.len() - 1));
        } else {
            value_expected = arg.starts_with("--") && !super::help::is_switch(arg);
            out.push(arg.clone());
        }
    }
    out
}
