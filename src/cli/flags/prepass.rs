//! The pre-pass argh lacks: GNU `--flag=value`, `-vv` and `-h`, `tinkex help CMD`, the
//! official CLI's `-f/--format`, `--help` text as stdout, a flag where a value belongs, and a
//! usage error that suggests the flag or command meant. Generic over the top-level struct.

use argh::{FromArgs, TopLevelCommand};

pub use super::spec::Spec;
use super::{official, suggest};
use crate::error::Error;

/// Why parsing stopped without a command: help for stdout (exit 0) or a usage error (exit 2).
#[derive(Debug)]
pub enum Stop {
    /// `--help`: the text for stdout.
    Help(String),
    /// A usage error, with a suggestion when a flag or command was mistyped.
    Usage(Error),
}

/// Parses the full argv (program name first) into `T`; `own_help` answers `--help` for the
/// command at a path (`["model", "list"]`) from argh's text for it.
pub fn parse<T: TopLevelCommand>(
    argv: &[String],
    own_help: impl Fn(&[&str], &str) -> Option<String>,
) -> Result<T, Stop> {
    let raw: Vec<String> = help_word(argv.get(1..).unwrap_or_default());
    let (raw, format) = official::take_format(&raw).map_err(Stop::Usage)?;
    let raw_refs: Vec<&str> = raw.iter().map(String::as_str).collect();
    let path = command_path(&raw_refs, help_at::<T>);
    let text = help_at::<T>(&path);
    let spec = Spec::from_help(&text);
    let mut args = normalize(&raw, &spec).map_err(Stop::Usage)?;
    official::apply_format(&mut args, format, &spec, &path).map_err(Stop::Usage)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if help_asked(&args, &spec) {
        if let Some(text) = own_help(&path, &text) {
            return Err(Stop::Help(text));
        }
    }
    T::from_args(&["tinkex"], &args).map_err(|exit| match exit.status {
        Ok(()) => Stop::Help(exit.output),
        Err(()) => {
            let (flags, commands) = suggest::known_at(&args, help_at::<T>);
            let error = suggest::usage_error(&exit.output, &flags, &commands);
            Stop::Usage(official::habit_hint(error, &args))
        }
    })
}

/// `tinkex help run` is `tinkex run --help` (`tinkex help`, `tinkex --help`), as in git.
fn help_word(args: &[String]) -> Vec<String> {
    match args.split_first() {
        Some((first, rest)) if first == "help" => {
            let mut out = rest.to_vec();
            out.push("--help".into());
            out
        }
        _ => args.to_vec(),
    }
}

/// Whether `--help` is asked for as a flag, not given as a flag's value.
fn help_asked(args: &[&str], spec: &Spec) -> bool {
    let mut value_expected = false;
    for arg in args {
        if value_expected {
            value_expected = false;
        } else if *arg == "--" {
            return false;
        } else if *arg == "--help" {
            return true;
        } else {
            value_expected = spec.options.iter().any(|o| o == arg);
        }
    }
    false
}

/// The commands argv names (`["model", "list"]`): its leading words that name a command.
pub fn command_path<'a>(args: &[&'a str], help_at: impl Fn(&[&str]) -> String) -> Vec<&'a str> {
    let mut path: Vec<&str> = Vec::new();
    let mut commands = suggest::listed_in_help(&help_at(&path)).1;
    for arg in args.iter().filter(|a| !a.starts_with('-')) {
        if !commands.iter().any(|c| c == arg) {
            break;
        }
        path.push(arg);
        commands = suggest::listed_in_help(&help_at(&path)).1;
    }
    path
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

/// Splits GNU-style `--flag=value` and expands `-vv`, leaving flag values untouched; a flag
/// given where a value belongs is refused (`--prompt --json` forgot the prompt), while
/// `--prompt=--json` still passes the literal.
pub fn normalize(args: &[String], spec: &Spec) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut value_for: Option<&str> = None;
    let mut options_ended = false;
    for arg in args {
        if let Some(flag) = value_for.take() {
            if spec.is_flag(arg) || arg == "-h" {
                return Err(missing_value(flag, arg));
            }
            out.push(arg.clone());
            continue;
        }
        if options_ended {
            out.push(arg.clone());
        } else if arg == "--" {
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
            value_for = spec
                .options
                .iter()
                .any(|o| o == arg)
                .then_some(arg.as_str());
            out.push(arg.clone());
        }
    }
    Ok(out)
}

/// `--prompt needs a value; '--json' is a flag`, with the way to pass the literal.
fn missing_value(flag: &str, next: &str) -> Error {
    Error::Input {
        message: format!("{flag} needs a value; '{next}' is a flag"),
        hint: Some(format!(
            "give {flag} its value, or write {flag}={next} if '{next}' is the value"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_flag_where_a_value_belongs_is_refused() {
        let spec = Spec {
            flags: strings(&["--prompt", "--json", "-v"]),
            options: strings(&["--prompt"]),
        };
        let err = normalize(&strings(&["--prompt", "--json"]), &spec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--prompt needs a value; '--json' is a flag"
        );
        assert_eq!(err.exit_code(), 2);
        assert!(normalize(&strings(&["--prompt", "-vv"]), &spec).is_err());
        let ok = normalize(&strings(&["--prompt=--json", "--prompt", "--x"]), &spec).unwrap();
        assert_eq!(ok, ["--prompt", "--json", "--prompt", "--x"]);
    }

    #[test]
    fn help_is_a_word_too() {
        assert_eq!(help_word(&strings(&["help", "run"])), ["run", "--help"]);
        assert_eq!(help_word(&strings(&["help"])), ["--help"]);
        assert_eq!(help_word(&strings(&["run", "help"])), ["run", "help"]);
    }
}
