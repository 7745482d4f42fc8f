//! `tinkex run --help`, grouped: one table of `run`'s flags (group, value name) that the
//! argument pre-pass also reads to know which flags take no value. The descriptions,
//! examples, notes and exit codes still come from argh's text for the `RunArgs` struct.

/// One flag of `tinkex run`.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// `--max-tokens`
    pub name: &'static str,
    /// `N` in `--max-tokens <N>`; None for a switch.
    pub value: Option<&'static str>,
    /// The short form, if any (`-q`).
    pub short: Option<&'static str>,
}

const fn value(name: &'static str, value: &'static str) -> Flag {
    Flag {
        name,
        value: Some(value),
        short: None,
    }
}

const fn switch(name: &'static str) -> Flag {
    Flag {
        name,
        value: None,
        short: None,
    }
}

/// `run`'s flags by group, in the order docs/run.md names them.
pub const RUN_FLAGS: &[(&str, &[Flag])] = &[
    (
        "Model",
        &[
            value("--base-model", "NAME"),
            value("--model-path", "tinker://…"),
        ],
    ),
    (
        "Prompt",
        &[
            value("--prompt", "TEXT"),
            value("--prompt-file", "FILE"),
            value("--tokenizer", "FILE|DIR|REPO"),
            switch("--offline"),
            switch("--no-tokenizer-cache"),
        ],
    ),
    (
        "Sampling",
        &[
            value("--max-tokens", "N"),
            value("--temperature", "T"),
            value("--top-k", "K"),
            value("--top-p", "P"),
            value("--num-samples", "N"),
            value("--seed", "N"),
            value("--stop", "TEXT"),
            value("--stop-token", "ID"),
            switch("--prompt-logprobs"),
            value("--topk-prompt-logprobs", "K"),
            value("--topk-logprobs", "K"),
        ],
    ),
    (
        "Chat",
        &[
            switch("--chat"),
            value("--system", "TEXT"),
            value("--messages", "FILE"),
            value("--image", "FILE"),
            value("--chat-template", "FILE"),
            value("--template-arg", "KEY=JSON"),
            switch("--think"),
            switch("--no-think"),
            value("--renderer", "NAME"),
            switch("--print-prompt"),
        ],
    ),
    (
        "Batch",
        &[
            value("--input", "FILE"),
            value("--parallel", "N"),
            switch("--resume"),
            switch("--fail-fast"),
            switch("--progress"),
            value("--batch-timeout", "SECONDS"),
            value("--shard", "K/N|auto"),
        ],
    ),
    (
        "Session",
        &[
            value("--session-name", "NAME"),
            value("--meta", "KEY=VALUE"),
        ],
    ),
    (
        "Output",
        &[
            switch("--json"),
            value("--output", "FILE"),
            switch("--logprobs"),
            switch("--tokens-only"),
            Flag {
                name: "--quiet",
                value: None,
                short: Some("-q"),
            },
            Flag {
                name: "--verbose",
                value: None,
                short: Some("-v"),
            },
        ],
    ),
    (
        "Connection",
        &[
            value("--api-key", "KEY"),
            value("--base-url", "URL"),
            value("--timeout", "SECONDS"),
            value("--http-pool", "N"),
        ],
    ),
];

/// Every `run` flag, in table order.
#[cfg(test)]
pub fn all_run_flags() -> impl Iterator<Item = &'static Flag> {
    RUN_FLAGS.iter().flat_map(|(_, flags)| flags.iter())
}

/// Where descriptions start, and how wide the text may be.
pub const COLUMN: usize = 34;
/// The widest a help line gets.
pub const WIDTH: usize = 100;

/// The grouped help, built from argh's `text` for `run` (descriptions and closing sections).
pub fn run_help(argh_text: &str) -> String {
    let described = descriptions(argh_text);
    let mut out = String::from("Usage: tinkex run [OPTIONS]\n\n");
    let mut sections = argh_text.split("\n\n");
    let _usage = sections.next();
    if let Some(about) = sections.next() {
        out.push_str(about.trim_end());
        out.push_str("\n\n");
    }
    for (group, flags) in RUN_FLAGS {
        out.push_str(&format!("{group}:\n"));
        for flag in *flags {
            let about = described
                .iter()
                .find(|(name, _)| name == flag.name)
                .map_or("", |(_, text)| text.as_str());
            out.push_str(&entry(&label(flag), about));
        }
        out.push('\n');
    }
    out.push_str("Help:\n");
    out.push_str(&entry("-h, --help", "display usage information"));
    // Examples, notes and exit codes as argh wrote them.
    for section in sections.filter(|s| !s.starts_with("Options:")) {
        out.push('\n');
        out.push_str(section.trim_end());
        out.push('\n');
    }
    out
}

/// `-q, --quiet` or `--max-tokens <N>`.
fn label(flag: &Flag) -> String {
    let mut label = match flag.short {
        Some(short) => format!("{short}, {}", flag.name),
        None => flag.name.to_string(),
    };
    if let Some(value) = flag.value {
        label.push_str(&format!(" <{value}>"));
    }
    label
}

/// One entry: the label, then the description wrapped at [`WIDTH`] from [`COLUMN`].
pub fn entry(label: &str, about: &str) -> String {
    let mut lines = vec![format!("  {label}")];
    let mut width = 2 + label.chars().count();
    if width + 2 > COLUMN {
        lines.push(String::new());
        width = 0;
    }
    let mut current = lines.pop().unwrap_or_default();
    current.push_str(&" ".repeat(COLUMN - width));
    let mut used = COLUMN;
    for word in about.split_whitespace() {
        if used > COLUMN && used + 1 + word.chars().count() > WIDTH {
            lines.push(current);
            current = " ".repeat(COLUMN);
            used = COLUMN;
        }
        if used > COLUMN {
            current.push(' ');
            used += 1;
        }
        current.push_str(word);
        used += word.chars().count();
    }
    lines.push(current.trim_end().to_string());
    lines.join("\n") + "\n"
}

/// Each long flag in argh's `Options:` section with its description (wrapped lines joined).
pub fn descriptions(argh_text: &str) -> Vec<(String, String)> {
    option_entries(argh_text)
        .into_iter()
        .map(|(names, about)| {
            let long = names
                .split(", ")
                .find(|n| n.starts_with("--"))
                .unwrap_or(&names)
                .to_string();
            (long, about)
        })
        .collect()
}

/// Each entry of argh's `Options:` section: its names as written (`-q, --quiet`) and its
/// description (wrapped lines joined).
pub fn option_entries(argh_text: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut in_options = false;
    for line in argh_text.lines() {
        if !line.starts_with(' ') {
            in_options = line.trim() == "Options:";
            continue;
        }
        if !in_options {
            continue;
        }
        let body = line.trim_start();
        if line.len() - body.len() == 2 {
            // Names end at the first space not after a comma (`-q, --quiet  quiet`); a name
            // as wide as argh's column is followed by one space only.
            let end = body
                .char_indices()
                .find(|&(i, c)| c == ' ' && !body[..i].ends_with(','))
                .map_or(body.len(), |(i, _)| i);
            let (names, about) = body.split_at(end);
            found.push((names.to_string(), about.trim().to_string()));
        } else if let Some((_, about)) = found.last_mut() {
            about.push(' ');
            about.push_str(body);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_line_up_and_wrap() {
        assert_eq!(
            entry("--seed <N>", "random seed"),
            format!("  --seed <N>{}random seed\n", " ".repeat(COLUMN - 12))
        );
        let long = entry("--x", &"word ".repeat(40));
        assert!(long.lines().all(|l| l.chars().count() <= WIDTH), "{long}");
        assert!(long.lines().count() > 1);
        let wide = entry("--a-very-long-flag-name <SOMETHING>", "d");
        assert_eq!(
            wide.lines().nth(1),
            Some(format!("{}d", " ".repeat(COLUMN)).as_str())
        );
    }

    #[test]
    fn argh_descriptions_are_read_with_their_continuations() {
        let text = "Usage: x\n\nAbout.\n\nOptions:\n  --seed            random\n                    seed\n  -q, --quiet       quiet\n  --prompt-logprobs also\n\nNotes:\n  n\n";
        assert_eq!(
            descriptions(text),
            [
                ("--seed".to_string(), "random seed".to_string()),
                ("--quiet".to_string(), "quiet".to_string()),
                ("--prompt-logprobs".to_string(), "also".to_string())
            ]
        );
    }
}
