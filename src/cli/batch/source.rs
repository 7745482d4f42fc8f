//! The batch input file: stdin spooled to a temp file, then read line by line (never all at once).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;

use super::input::{id_key, parse_line, BatchItem, LineDefaults};
use crate::cli::prompt::Prompt;
use crate::cli::settings::PromptSource;
use crate::error::{Error, Result};

/// How many bad lines the refusal lists.
const SHOWN_ERRORS: usize = 10;

/// A readable input file; a spooled stdin copy is removed on drop.
#[derive(Debug)]
pub struct InputFile {
    path: PathBuf,
    label: String,
    spooled: bool,
}

/// What the validation pass learned.
#[derive(Debug)]
pub struct Scan {
    /// Every id in the input (for resume accounting).
    pub ids: HashMap<String, usize>,
}

impl InputFile {
    /// Opens `--input`, spooling stdin to a temp file so memory stays flat.
    pub fn open(source: &PromptSource) -> Result<InputFile> {
        match source {
            PromptSource::File(path) => {
                File::open(path).map_err(|e| {
                    Error::input(format!("--input {}: {}", path.display(), describe(&e)))
                })?;
                Ok(InputFile {
                    path: path.clone(),
                    label: format!("--input {}", path.display()),
                    spooled: false,
                })
            }
            PromptSource::Stdin => {
                let path =
                    std::env::temp_dir().join(format!("tinkex-input-{}.jsonl", std::process::id()));
                let mut file = File::create(&path)
                    .map_err(|e| Error::io("cannot spool stdin to a temp file", e))?;
                let spooled = InputFile {
                    path,
                    label: "--input - (stdin)".into(),
                    spooled: true,
                };
                io::copy(&mut io::stdin().lock(), &mut file)
                    .map_err(|e| Error::io("cannot read stdin", e))?;
                Ok(spooled)
            }
            PromptSource::Text(_) => Err(Error::Unexpected(
                "batch input cannot be inline text".into(),
            )),
        }
    }

    /// Non-blank lines with their 1-based numbers; a line that is not UTF-8 yields an error text.
    fn lines(&self) -> Result<impl Iterator<Item = (usize, Result<String, String>)> + Send> {
        let file = File::open(&self.path)
            .map_err(|e| Error::input(format!("{}: {}", self.label, describe(&e))))?;
        let lines = BufReader::new(file)
            .split(b'\n')
            .enumerate()
            .filter_map(|(index, bytes)| {
                let text = match bytes {
                    Ok(bytes) => {
                        String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())
                    }
                    Err(e) => Err(format!("cannot read: {e}")),
                };
                match text {
                    Ok(text) if text.trim().is_empty() => None,
                    other => Some((index + 1, other)),
                }
            });
        Ok(lines)
    }

    /// The first pass: every line parsed and checked; refuses the batch if any line is bad.
    pub fn validate(&self, defaults: &LineDefaults, tokens_only: bool) -> Result<Scan> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut bad = Vec::new();
        let mut bad_count = 0;
        for (line, text) in self.lines()? {
            let problem = match text.and_then(|t| parse_line(&t, line, defaults)) {
                Err(message) => Some(message),
                Ok(item) if tokens_only && matches!(item.prompt, Prompt::Text(_)) => {
                    Some("--tokens-only needs \"tokens\", not \"prompt\"".to_string())
                }
                Ok(item) => match ids.insert(id_key(&item.id), line) {
                    Some(first) => Some(format!("id {} repeats line {first}", item.id)),
                    None => None,
                },
            };
            if let Some(problem) = problem {
                bad_count += 1;
                if bad.len() < SHOWN_ERRORS {
                    bad.push(format!("  line {line}: {problem}"));
                }
            }
        }
        if bad_count > 0 {
            let more = if bad_count > SHOWN_ERRORS {
                format!("\n  … and {} more", bad_count - SHOWN_ERRORS)
            } else {
                String::new()
            };
            let plural = if bad_count == 1 { "" } else { "s" };
            return Err(Error::Input {
                message: format!(
                    "{}: {bad_count} bad line{plural}; nothing was sampled\n{}{more}",
                    self.label,
                    bad.join("\n")
                ),
                hint: Some("fix the lines above and run again".into()),
            });
        }
        if ids.is_empty() {
            return Err(Error::input(format!(
                "{}: no prompts (the file is empty)",
                self.label
            )));
        }
        Ok(Scan { ids })
    }

    /// The second pass: items in input order (already validated, so bad lines cannot occur).
    pub fn items<'a>(
        &'a self,
        defaults: &'a LineDefaults,
    ) -> Result<impl Iterator<Item = BatchItem> + Send + 'a> {
        Ok(self.lines()?.filter_map(move |(line, text)| {
            text.ok().and_then(|t| parse_line(&t, line, defaults).ok())
        }))
    }
}

impl Drop for InputFile {
    fn drop(&mut self) {
        if self.spooled {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SamplingParams;

    fn defaults() -> LineDefaults {
        LineDefaults {
            num_samples: 1,
            params: SamplingParams::default(),
        }
    }

    fn input(content: &str) -> (tempfile::TempDir, InputFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, content).unwrap();
        let file = InputFile::open(&PromptSource::File(path)).unwrap();
        (dir, file)
    }

    #[test]
    fn blank_lines_are_skipped_and_line_numbers_kept() {
        let (_dir, file) = input("{\"prompt\": \"a\"}\n\n  \n{\"tokens\": [1]}\n");
        file.validate(&defaults(), false).unwrap();
        let lines: Vec<usize> = file.items(&defaults()).unwrap().map(|i| i.line).collect();
        assert_eq!(lines, vec![1, 4]);
    }

    #[test]
    fn bad_lines_are_listed_with_their_numbers() {
        let (_dir, file) = input("{\"prompt\": \"a\"}\nnope\n{\"id\": 1, \"prompt\": \"b\"}\n{\"prompt\": \"c\", \"top_p\": 2}\n");
        let err = file.validate(&defaults(), false).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(": 3 bad lines; nothing was sampled\n"),
            "{message}"
        );
        assert!(message.contains("\n  line 2: not valid JSON"), "{message}");
        assert!(
            message.contains("\n  line 3: id 1 repeats line 1"),
            "{message}"
        );
        assert!(
            message.contains("\n  line 4: top_p: must be greater than 0 and at most 1"),
            "{message}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn only_the_first_ten_are_shown() {
        let (_dir, file) = input(&"x\n".repeat(25));
        let message = file.validate(&defaults(), false).unwrap_err().to_string();
        assert_eq!(message.matches("\n  line ").count(), 10);
        assert!(message.ends_with("… and 15 more"), "{message}");
    }

    #[test]
    fn tokens_only_rejects_text_lines_and_empty_input_is_refused() {
        let (_dir, file) = input("{\"prompt\": \"a\"}\n");
        assert!(file
            .validate(&defaults(), true)
            .unwrap_err()
            .to_string()
            .contains("--tokens-only needs"));
        let (_dir, empty) = input("\n\n");
        assert!(empty
            .validate(&defaults(), false)
            .unwrap_err()
            .to_string()
            .ends_with("no prompts (the file is empty)"));
    }
}
