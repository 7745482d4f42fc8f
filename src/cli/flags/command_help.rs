//! Every command's `--help` in `run --help`'s style: a short usage line, the flags in groups
//! with value names (a flag `run` has sits in `run`'s group; a command's own flags come
//! first), `-h` listed, then argh's examples, notes and exit codes as written.

use super::help::{entry, option_entries, RUN_FLAGS};
use super::spec::Spec;

/// Value names of flags `run` does not have (`run`'s own come from its table).
const VALUE_NAMES: &[(&str, &str)] = &[
    ("--limit", "N"),
    ("--run-id", "RUN_ID"),
    ("--context", "TEXT"),
    ("--continuation", "TEXT"),
    ("--choice", "TEXT"),
    ("--context-tokens", "FILE"),
    ("--continuation-tokens", "FILE"),
    ("--output", "FILE"),
    ("--input", "FILE"),
];

/// The help for the command at `path` (empty: `tinkex` itself), from argh's `text` for it.
pub fn command_help(path: &[&str], text: &str) -> String {
    let spec = Spec::from_help(text);
    let mut sections = text.split("\n\n");
    let usage = sections.next().unwrap_or_default();
    let mut out = usage_line(path, usage, text.contains("\nCommands:\n"));
    if let Some(about) = sections.next() {
        out.push_str(about.trim_end());
        out.push_str("\n\n");
    }
    let rest: Vec<&str> = sections.collect();
    let leading = |s: &&&str| s.starts_with("Positional Arguments:") || s.starts_with("Commands:");
    for section in rest.iter().filter(leading) {
        out.push_str(section.trim_end());
        out.push_str("\n\n");
    }
    out.push_str(&grouped_options(text, &spec));
    out.push_str("Help:\n");
    out.push_str(&entry("-h, --help", "display usage information"));
    if !path.is_empty() {
        let words = path.join(" ");
        out.push_str(&entry(
            &format!("tinkex help {words}"),
            "the same as --help",
        ));
    }
    for section in rest
        .iter()
        .filter(|s| !s.starts_with("Options:") && !leading(s))
    {
        out.push('\n');
        out.push_str(section.trim_end());
        out.push('\n');
    }
    out
}

/// `Usage: tinkex model list [OPTIONS] [--] [<filter>]`: flags folded into `[OPTIONS]`.
fn usage_line(path: &[&str], usage: &str, has_commands: bool) -> String {
    let mut line = String::from("Usage: tinkex");
    for word in path {
        line.push(' ');
        line.push_str(word);
    }
    if has_commands {
        line.push_str(" <COMMAND>");
    }
    line.push_str(" [OPTIONS]");
    // A positional starts with `<` (or `[<`) and is no flag's value (`[--limit <limit>]`).
    let tokens: Vec<&str> = usage.split_whitespace().skip(2 + path.len()).collect();
    for (i, token) in tokens.iter().enumerate() {
        let previous = i
            .checked_sub(1)
            .map_or("", |p| tokens[p].trim_start_matches('['));
        let after_flag = previous.starts_with('-') && previous != "--]";
        let positional = token.trim_start_matches('[').starts_with('<');
        if positional && !after_flag && !token.contains("<command>") && !token.contains("<args>") {
            line.push(' ');
            line.push_str(token);
        }
    }
    line.push_str("\n\n");
    line
}

/// The options in groups: the command's own first (`Options:`), then `run`'s groups.
fn grouped_options(text: &str, spec: &Spec) -> String {
    let entries: Vec<(String, String, &str)> = option_entries(text)
        .into_iter()
        .filter(|(names, _)| !names.starts_with("--help"))
        .map(|(names, about)| {
            let (label, group) = flag_of(&names, spec);
            (label, about, group)
        })
        .collect();
    let groups = std::iter::once("Options").chain(RUN_FLAGS.iter().map(|(group, _)| *group));
    let mut out = String::new();
    for group in groups {
        let mut members = entries.iter().filter(|(_, _, g)| *g == group).peekable();
        if members.peek().is_none() {
            continue;
        }
        out.push_str(&format!("{group}:\n"));
        for (label, about, _) in members {
            out.push_str(&entry(label, about));
        }
        out.push('\n');
    }
    out
}

/// The label of the flag argh lists as `names` (`-q, --quiet`, with its value name) and its
/// group.
fn flag_of(names: &str, spec: &Spec) -> (String, &'static str) {
    let long = names
        .split(", ")
        .find(|n| n.starts_with("--"))
        .unwrap_or(names);
    let known = RUN_FLAGS
        .iter()
        .find_map(|(group, flags)| flags.iter().find(|f| f.name == long).map(|f| (f, *group)));
    let takes_value = spec.options.iter().any(|o| o == long);
    let value = takes_value.then(|| {
        known
            .and_then(|(f, _)| f.value)
            .or_else(|| {
                VALUE_NAMES
                    .iter()
                    .find(|(n, _)| *n == long)
                    .map(|(_, v)| *v)
            })
            .unwrap_or("VALUE")
    });
    let mut label = names.to_string();
    if let Some(value) = value {
        label.push_str(&format!(" <{value}>"));
    }
    (label, known.map_or("Options", |(_, group)| group))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Usage: tinkex checkpoint list [--run-id <run-id>] [--limit <limit>] [--json] [--api-key <api-key>] [-q] [--] [<filter>]\n\nList checkpoints.\n\nOptions:\n  --run-id          only this run\n  --limit           how many\n  --json            as JSON\n  --api-key         the key\n  -q, --quiet       quiet\n  --help, help      display usage information\n\nExamples:\n  $ tinkex checkpoint list\n";

    #[test]
    fn flags_are_grouped_with_value_names() {
        let help = command_help(&["checkpoint", "list"], TEXT);
        assert!(
            help.starts_with("Usage: tinkex checkpoint list [OPTIONS] [<filter>]\n\nList checkpoints.\n\nOptions:\n  --run-id <RUN_ID>"),
            "{help}"
        );
        for shown in [
            "--limit <N>",
            "\nOutput:\n  --json",
            "-q, --quiet",
            "\nConnection:\n  --api-key <KEY>",
            "-h, --help",
            "tinkex help checkpoint list",
            "Examples:\n  $ tinkex checkpoint list",
        ] {
            assert!(help.contains(shown), "{shown} missing: {help}");
        }
    }
}
