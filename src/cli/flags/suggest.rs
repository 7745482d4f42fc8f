//! Usage errors in one style: argh's messages reworded (`invalid value '0' for --max-tokens:
//! …`), and an unknown flag or command answered with the closest known one by edit distance
//! (`did you mean --max-tokens?`), `_` and `-` counted as the same.

use crate::error::Error;

/// The usage error for argh's `output` (its whole text); `known` lists the flags and the
/// commands valid where the unknown argument was met.
pub fn usage_error(output: &str, flags: &[String], commands: &[String]) -> Error {
    let first = output
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim();
    if let Some(given) = first.strip_prefix("Unrecognized argument: ") {
        let given = given.trim_matches('"');
        return unknown(given, flags, commands);
    }
    if let Some(rest) = first.strip_prefix("Error parsing option '") {
        if let Some((flag, rest)) = rest.split_once("' with value '") {
            if let Some((value, why)) = rest.split_once("': ") {
                let why = number_range(value, why);
                return Error::usage(format!("invalid value '{value}' for {flag}: {why}"));
            }
        }
    }
    if let Some(rest) = first.strip_prefix("No value provided for option '") {
        let flag = rest.trim_end_matches('.').trim_end_matches('\'');
        return Error::usage(format!("{flag} needs a value"));
    }
    if first.starts_with("Required options not provided") {
        let missing: Vec<&str> = output.lines().skip(1).map(str::trim).collect();
        return Error::usage(format!("missing {}", missing.join(", ")));
    }
    Error::usage(lowercase_first(first))
}

/// Rust's integer parse errors as the range a flag takes (`--limit -1` → "must be a whole
/// number ≥ 0"); every other reason as written.
fn number_range<'a>(value: &str, why: &'a str) -> std::borrow::Cow<'a, str> {
    match why {
        "invalid digit found in string" if value.starts_with('-') => {
            "must be a whole number ≥ 0".into()
        }
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be a whole number".into()
        }
        "number too large to fit in target type" => "must be a smaller whole number".into(),
        "number too small to fit in target type" => "must be a larger whole number".into(),
        other => other.into(),
    }
}

/// `unknown flag '--max-token'` (hint: `did you mean --max-tokens?`), or the same for a command.
fn unknown(given: &str, flags: &[String], commands: &[String]) -> Error {
    let (message, candidates, quote) = if given.starts_with('-') {
        (format!("unknown flag '{given}'"), flags, false)
    } else if commands.is_empty() {
        (format!("unexpected argument '{given}'"), commands, false)
    } else {
        (format!("unknown command '{given}'"), commands, true)
    };
    match closest(given, candidates) {
        Some(best) if quote => Error::Input {
            message,
            hint: Some(format!("did you mean '{best}'?")),
        },
        Some(best) => Error::Input {
            message,
            hint: Some(format!("did you mean {best}?")),
        },
        None => Error::usage(message),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The candidate nearest to `given`, if it is near enough to be what was meant.
pub fn closest<'a>(given: &str, candidates: &'a [String]) -> Option<&'a str> {
    let wanted = fold(given);
    // Allow about one slip in four characters, and at least two (`rnu` → `run`).
    let limit = (wanted.chars().count() / 4).max(2);
    candidates
        .iter()
        .map(|c| (distance(&wanted, &fold(c)), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// Case and `_`/`-` do not count: `--num_samples` is `--num-samples`.
fn fold(text: &str) -> String {
    text.to_lowercase().replace('_', "-")
}

/// Edit distance with adjacent transpositions (optimal string alignment): `rnu` → `run` is 1.
/// Inputs are command-line words; the table is bounded by their lengths (capped at 64).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        table[at(i, 0)] = i;
    }
    for j in 0..=b.len() {
        table[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[at(i - 1, j)] + 1)
                .min(table[at(i, j - 1)] + 1)
                .min(table[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[at(i - 2, j - 2)] + 1);
            }
            table[at(i, j)] = best;
        }
    }
    table[at(a.len(), b.len())]
}

/// The flags (`--quiet` and `-q`) and commands listed in an argh help text.
pub fn listed_in_help(help: &str) -> (Vec<String>, Vec<String>) {
    let (mut flags, mut commands) = (Vec::new(), Vec::new());
    let mut section = "";
    for line in help.lines() {
        if !line.starts_with(' ') {
            section = line.trim();
            continue;
        }
        // An entry starts two spaces in; deeper lines continue a description.
        let Some(entry) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) else {
            continue;
        };
        let names = entry.split("  ").next().unwrap_or_default();
        match section {
            "Options:" => flags.extend(
                names
                    .split(", ")
                    .map(|n| n.split_whitespace().next().unwrap_or_default())
                    .filter(|n| n.starts_with('-'))
                    .map(String::from),
            ),
            "Commands:" => commands.extend(names.split_whitespace().next().map(String::from)),
            _ => {}
        }
    }
    (flags, commands)
}

/// The flags and commands valid where parsing stopped: those of the deepest command that
/// `args` names, read from `help_at(path)` (argh's own help text for the command at `path`),
/// so every command and flag is covered without a list to keep in step.
pub fn known_at(args: &[&str], help_at: impl Fn(&[&str]) -> String) -> (Vec<String>, Vec<String>) {
    let mut path: Vec<&str> = Vec::new();
    let mut known = listed_in_help(&help_at(&path));
    for arg in args.iter().filter(|a| !a.starts_with('-')) {
        if !known.1.iter().any(|c| c == arg) {
            break;
        }
        path.push(arg);
        known = listed_in_help(&help_at(&path));
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn near_misses_find_their_flag_or_command() {
        let flags = strings(&[
            "--max-tokens",
            "--num-samples",
            "--base-model",
            "--model-path",
        ]);
        assert_eq!(closest("--max-token", &flags), Some("--max-tokens"));
        assert_eq!(closest("--num_samples", &flags), Some("--num-samples"));
        assert_eq!(closest("--basemodel", &flags), Some("--base-model"));
        assert_eq!(closest("--frobnicate", &flags), None);
        let commands = strings(&["run", "version", "model", "checkpoint"]);
        assert_eq!(closest("rnu", &commands), Some("run"));
        assert_eq!(closest("modle", &commands), Some("model"));
        assert_eq!(closest("zzzzzzzz", &commands), None);
    }

    #[test]
    fn argh_messages_are_reworded() {
        let err = usage_error(
            "Error parsing option '--max-tokens' with value '0': must be at least 1\n",
            &[],
            &[],
        );
        assert_eq!(
            err.to_string(),
            "invalid value '0' for --max-tokens: must be at least 1"
        );
        let err = usage_error(
            "Error parsing option '--limit' with value '-1': invalid digit found in string\n",
            &[],
            &[],
        );
        assert_eq!(
            err.to_string(),
            "invalid value '-1' for --limit: must be a whole number ≥ 0"
        );
        let err = usage_error("No value provided for option '--prompt'.\n", &[], &[]);
        assert_eq!(err.to_string(), "--prompt needs a value");
        let flags = strings(&["--max-tokens"]);
        let err = usage_error("Unrecognized argument: --max-token\n", &flags, &[]);
        assert_eq!(err.to_string(), "unknown flag '--max-token'");
        assert_eq!(err.hint(), Some("did you mean --max-tokens?"));
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn help_texts_list_flags_and_commands() {
        let help = "Usage: tinkex [--version]\n\nOptions:\n  --version         print the version\n  -q, --quiet       quiet\n  --help, help      display usage information\n\nCommands:\n  run               Sample from a base model or saved weights and print the\n                    result.\n  training-run      Training runs.\n";
        let (flags, commands) = listed_in_help(help);
        assert_eq!(flags, ["--version", "-q", "--quiet", "--help"]);
        assert_eq!(commands, ["run", "training-run"]);
    }
}
