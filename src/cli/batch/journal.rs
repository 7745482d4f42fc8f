//! The batch output journal: lines appended and flushed in order, resumable after any interruption.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::input::id_key;
use crate::error::{Error, Result};

/// Where batch lines go.
pub enum Journal {
    /// Standard output (no resume possible).
    Stdout,
    /// An append-only file.
    File {
        /// The open file, positioned at its end.
        file: File,
        /// Its path, for messages.
        path: PathBuf,
    },
}

/// What an existing journal already holds.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Ids whose lines succeeded and are kept.
    pub done: HashSet<String>,
    /// Failed or torn lines that were dropped, to be sampled again.
    pub dropped: usize,
}

impl Journal {
    /// Opens the journal: refuses an existing file unless resuming, and then keeps its good lines.
    pub fn open(path: Option<&Path>, resume: bool) -> Result<(Journal, Resumed)> {
        let Some(path) = path else {
            if resume {
                return Err(Error::Usage(
                    "--resume needs --output FILE (the journal to continue)".into(),
                ));
            }
            return Ok((Journal::Stdout, Resumed::default()));
        };
        let exists = path.try_exists().unwrap_or(true);
        if exists && !resume {
            return Err(Error::Input {
                message: format!("--output {} already exists", path.display()),
                hint: Some("pass --resume to continue it, or choose another file".into()),
            });
        }
        let resumed = if exists {
            compact(path)?
        } else {
            Resumed::default()
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| {
                Error::io(
                    format!("--output {}: cannot create its directory", path.display()),
                    e,
                )
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(format!("--output {}: cannot open it", path.display()), e))?;
        Ok((
            Journal::File {
                file,
                path: path.to_path_buf(),
            },
            resumed,
        ))
    }

    /// Appends one line and flushes it, so an interruption never leaves it half-written in a buffer.
    pub fn append(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        match self {
            Journal::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&bytes)
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io("cannot write to stdout", e))
            }
            Journal::File { file, path } => file
                .write_all(&bytes)
                .map_err(|e| Error::io(format!("--output {}: cannot append", path.display()), e)),
        }
    }
}

/// A kept journal line: a JSON object with an id and no error.
fn successful_id(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    let object = value.as_object()?;
    if object.contains_key("error") {
        return None;
    }
    object.get("id").map(id_key)
}

/// Reads an existing journal, keeps its successful lines, and rewrites it when it dropped any.
fn compact(path: &Path) -> Result<Resumed> {
    let text = fs::read(path).map_err(|e| {
        Error::io(
            format!("--output {}: cannot read it to resume", path.display()),
            e,
        )
    })?;
    let text = String::from_utf8_lossy(&text);
    let mut resumed = Resumed::default();
    let mut kept = String::with_capacity(text.len());
    // Only newline-terminated lines are complete; whatever follows the last newline is torn.
    let complete = text.rfind('\n').map_or("", |end| &text[..=end]);
    resumed.dropped += usize::from(!text[complete.len()..].trim().is_empty());
    for line in complete.lines().filter(|l| !l.trim().is_empty()) {
        // A repeated id (from an older, already-compacted journal) is kept once.
        if successful_id(line).is_some_and(|id| resumed.done.insert(id)) {
            kept.push_str(line);
            kept.push('\n');
        } else {
            resumed.dropped += 1;
        }
    }
    if kept.len() != text.len() {
        crate::cli::sink::to_file_atomically(path, kept.as_bytes())?;
    }
    Ok(resumed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_file_is_refused_without_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, "{}\n").unwrap();
        let err = Journal::open(Some(&path), false).err().unwrap();
        assert!(err.to_string().ends_with("already exists"), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{}\n",
            "never overwritten"
        );
    }

    #[test]
    fn resume_keeps_successes_and_drops_failures_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let content = "{\"id\":\"a\",\"line\":1,\"sequences\":[]}\n{\"id\":2,\"line\":2,\"error\":{\"category\":\"server\",\"message\":\"x\"}}\n{\"id\":\"c\",\"line\":3,\"sequences\":[]}\n{\"id\":\"d\",\"li";
        fs::write(&path, content).unwrap();
        let (mut journal, resumed) = Journal::open(Some(&path), true).unwrap();
        assert_eq!(
            resumed.done,
            HashSet::from(["a".to_string(), "c".to_string()])
        );
        assert_eq!(resumed.dropped, 2);
        journal
            .append("{\"id\":\"d\",\"line\":4,\"sequences\":[]}")
            .unwrap();
        let expected = "{\"id\":\"a\",\"line\":1,\"sequences\":[]}\n{\"id\":\"c\",\"line\":3,\"sequences\":[]}\n{\"id\":\"d\",\"line\":4,\"sequences\":[]}\n";
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn resume_without_a_file_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/out.jsonl");
        let (mut journal, resumed) = Journal::open(Some(&path), true).unwrap();
        assert!(resumed.done.is_empty());
        journal.append("{}").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert!(Journal::open(None, true).is_err());
    }
}
