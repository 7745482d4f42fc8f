//! Habits from the official `tinker` CLI, met halfway: its `-f/--format json|table` output
//! switch (before or after the subcommand) is `--json` or the default, and its command
//! names (`run list`, `session list`) get a hint naming what tinkex has instead.

use super::spec::Spec;
use crate::error::Error;

/// The official CLI's output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `json`: the command's `--json`.
    Json,
    /// `table`: the default output.
    Table,
}

/// Removes `-f X`, `--format X` and `--format=X` (before a `--`) from `args`, returning the
/// last format given.
pub fn take_format(args: &[String]) -> Result<(Vec<String>, Option<Format>), Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut format = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(iter.by_ref().cloned());
            break;
        }
        let value = if arg == "-f" || arg == "--format" {
            let Some(value) = iter.next() else {
                return Err(Error::usage(format!("{arg} needs a value: json or table")));
            };
            value.as_str()
        } else if let Some(value) = arg.strip_prefix("--format=") {
            value
        } else {
            out.push(arg.clone());
            continue;
        };
        format = Some(match value {
            "json" => Format::Json,
            "table" => Format::Table,
            other => {
                return Err(Error::usage(format!(
                    "invalid value '{other}' for --format: json or table"
                )))
            }
        });
    }
    Ok((out, format))
}

/// `json` becomes the command's `--json` (once, before any `--`); `table` is the default.
pub fn apply_format(
    args: &mut Vec<String>,
    format: Option<Format>,
    spec: &Spec,
    path: &[&str],
) -> Result<(), Error> {
    if format != Some(Format::Json) || args.iter().any(|a| a == "--json") {
        return Ok(());
    }
    if !spec.flags.iter().any(|f| f == "--json") {
        let command = if path.is_empty() {
            "tinkex".to_string()
        } else {
            format!("tinkex {}", path.join(" "))
        };
        return Err(Error::usage(format!(
            "--format json: '{command}' has no JSON output"
        )));
    }
    let at = args.iter().position(|a| a == "--").unwrap_or(args.len());
    args.insert(at, "--json".into());
    Ok(())
}

/// What tinkex has for a command of the official CLI it does not know under that name.
const HABITS: &[(&str, &str, &str)] = &[
    (
        "run",
        "list",
        "tinkex calls them training runs: tinkex training-run list",
    ),
    (
        "run",
        "info",
        "tinkex calls them training runs: tinkex training-run info RUN_ID",
    ),
    (
        "session",
        "",
        "tinkex opens a session per command and keeps none to list; see 'tinkex training-run list', \
         'tinkex checkpoint list' and 'tinkex model list'",
    ),
];

/// A usage error for an official-CLI habit gets the hint naming tinkex's way instead.
pub fn habit_hint(error: Error, args: &[&str]) -> Error {
    let words: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    let found = HABITS.iter().find(|(command, sub, _)| {
        words.first() == Some(command) && (sub.is_empty() || words.get(1) == Some(sub))
    });
    match (found, &error) {
        (Some((_, _, hint)), Error::Usage(message) | Error::Input { message, .. }) => {
            Error::Input {
                message: message.clone(),
                hint: Some(hint.to_string()),
            }
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn format_flags_are_taken_out_wherever_they_stand() {
        let (rest, format) = take_format(&strings(&["-f", "json", "model", "list"])).unwrap();
        assert_eq!(
            (rest, format),
            (strings(&["model", "list"]), Some(Format::Json))
        );
        let (rest, format) = take_format(&strings(&["model", "--format=table"])).unwrap();
        assert_eq!((rest, format), (strings(&["model"]), Some(Format::Table)));
        let (rest, format) = take_format(&strings(&["merge", "--", "-f", "x"])).unwrap();
        assert_eq!((rest.len(), format), (4, None));
        let err = take_format(&strings(&["--format", "csv"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value 'csv' for --format: json or table"
        );
        assert!(take_format(&strings(&["-f"])).is_err());
    }

    #[test]
    fn json_needs_a_command_with_json_output() {
        let spec = Spec {
            flags: strings(&["--json"]),
            options: Vec::new(),
        };
        let mut args = strings(&["model", "list"]);
        apply_format(&mut args, Some(Format::Json), &spec, &["model", "list"]).unwrap();
        assert_eq!(args, ["model", "list", "--json"]);
        let err = apply_format(&mut args, Some(Format::Json), &Spec::default(), &["x"]);
        assert!(err.is_ok(), "--json already given");
        let mut bare = strings(&["x"]);
        let err = apply_format(&mut bare, Some(Format::Json), &Spec::default(), &["x"]);
        assert_eq!(
            err.unwrap_err().to_string(),
            "--format json: 'tinkex x' has no JSON output"
        );
    }
}
