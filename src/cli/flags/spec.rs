//! What the pre-pass knows of a command's flags: which exist and which take a value, read
//! from argh's own help text so no list has to be kept in step with the structs.

use super::suggest;

/// The flags of the command argv names, read from argh's help text for it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Spec {
    /// Every flag, long and short (`--quiet`, `-q`, `--help`).
    pub flags: Vec<String>,
    /// The flags that take a value (`--limit`).
    pub options: Vec<String>,
}

impl Spec {
    /// The spec of a command from argh's help text: its usage line says which flags take a
    /// value (`[--limit <limit>]`), its `Options:` section lists long and short names.
    pub fn from_help(text: &str) -> Spec {
        let usage: Vec<&str> = text
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        // `[--limit <limit>]` or a required `--input <input>`; `[--version] <command>` is not.
        let options = usage
            .windows(2)
            .map(|w| (w[0].trim_start_matches('['), w[1]))
            .filter(|(flag, value)| {
                flag.starts_with('-') && !flag.ends_with(']') && value.starts_with('<')
            })
            .map(|(flag, _)| flag.to_string())
            .collect();
        Spec {
            flags: suggest::listed_in_help(text).0,
            options,
        }
    }

    /// Whether `arg` is one of the command's flags (`-vv` counts as `-v`).
    pub fn is_flag(&self, arg: &str) -> bool {
        let verbose = arg.len() > 2 && arg[1..].chars().all(|c| c == 'v');
        self.flags.iter().any(|f| f == arg) || (verbose && self.flags.iter().any(|f| f == "-v"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_comes_from_the_usage_line() {
        let text = "Usage: tinkex x [--limit <limit>] [--json] [-q] <command> [<args>]\n\nAbout.\n\nOptions:\n  --limit           n\n  --json            j\n  -q, --quiet       q\n  --help, help      h\n";
        let spec = Spec::from_help(text);
        assert_eq!(spec.options, ["--limit"]);
        assert_eq!(spec.flags, ["--limit", "--json", "-q", "--quiet", "--help"]);
    }
}
