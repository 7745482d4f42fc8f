//! The batch output journal: lines appended and flushed in order, resumable after any interruption.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ids::{line_at, IdIndex};
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

/// What an existing journal already holds, read before anything is changed: successful ids
/// as hashes (with where their lines start, to confirm a match), and the lines to drop.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Ids whose lines succeeded and are kept → the offsets of those lines.
    done: IdIndex<u64>,
    /// Where the complete lines that are dropped start, in file order.
    dropped_at: Vec<u64>,
    /// The end of the last complete line; bytes after it are a torn line, cut off.
    end: u64,
    /// The journal's size when it was read.
    size: u64,
    /// Failed or torn lines that are dropped, to be sampled again.
    pub dropped: usize,
    /// The journal, to read kept lines back.
    reader: Option<BufReader<File>>,
}

impl Resumed {
    /// Reads the journal at `path` when resuming; refuses an existing file otherwise.
    pub fn read(path: Option<&Path>, resume: bool) -> Result<Resumed> {
        let Some(path) = path else {
            if resume {
                return Err(Error::Usage(
                    "--resume needs --output FILE (the journal to continue)".into(),
                ));
            }
            return Ok(Resumed::default());
        };
        let exists = path.try_exists().unwrap_or(true);
        if exists && !resume {
            return Err(Error::Input {
                message: format!("--output {} already exists", path.display()),
                hint: Some("pass --resume to continue it, or choose another file".into()),
            });
        }
        if !exists {
            return Ok(Resumed::default());
        }
        scan(path).map_err(|e| {
            Error::io(
                format!("--output {}: cannot read it to resume", path.display()),
                e,
            )
        })
    }

    /// Whether the journal holds a success for the id `key` (a hash match read back to confirm).
    pub fn contains(&mut self, key: &str) -> Result<bool> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(false);
        };
        let found = self
            .done
            .find(key, |at| {
                line_at(reader, at).map(|line| successful_id(&line).as_deref() == Some(key))
            })
            .map_err(|e| Error::io("--output: cannot read it back to resume", e))?;
        Ok(found.is_some())
    }

    /// How many successful lines the journal keeps.
    pub fn kept(&self) -> usize {
        self.done.len()
    }

    fn needs_rewrite(&self) -> bool {
        !self.dropped_at.is_empty() || self.end < self.size
    }
}

/// The first read of a journal: which lines are kept (successes, each id once) and which not.
fn scan(path: &Path) -> io::Result<Resumed> {
    let mut lines = BufReader::new(File::open(path)?);
    let mut reader = BufReader::new(File::open(path)?);
    let mut resumed = Resumed::default();
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let start = resumed.size;
        let n = lines.read_until(b'\n', &mut bytes)?;
        if n == 0 {
            break;
        }
        resumed.size += n as u64;
        // Only newline-terminated lines are complete; whatever follows the last newline is torn.
        if bytes.last() != Some(&b'\n') {
            resumed.dropped += usize::from(!bytes.trim_ascii().is_empty());
            break;
        }
        resumed.end = resumed.size;
        let line = String::from_utf8_lossy(&bytes[..n - 1]);
        let blank = line.trim().is_empty();
        let keep = match successful_id(&line) {
            // A repeated id (from an older, already-compacted journal) is kept once.
            Some(key) => {
                let repeated = resumed.done.find(&key, |at| {
                    line_at(&mut reader, at).map(|l| successful_id(&l).as_deref() == Some(&*key))
                })?;
                if repeated.is_none() {
                    resumed.done.insert_new(&key, start);
                }
                repeated.is_none()
            }
            None => false,
        };
        if !keep {
            resumed.dropped_at.push(start);
            resumed.dropped += usize::from(!blank);
        }
    }
    resumed.reader = Some(reader);
    Ok(resumed)
}

impl Journal {
    /// Opens the journal: keeps the good lines `resumed` found (rewriting the file atomically
    /// when it drops any) and appends after them.
    pub fn open(path: Option<&Path>, resumed: Resumed) -> Result<Journal> {
        let Some(path) = path else {
            return Ok(Journal::Stdout);
        };
        if resumed.needs_rewrite() {
            crate::cli::sink::write_atomically(path, |out| copy_kept(path, &resumed, out))?;
        }
        drop(resumed);
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
        Ok(Journal::File {
            file,
            path: path.to_path_buf(),
        })
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

/// Streams the kept lines of the journal at `path` into `out`, one line in memory at a time.
fn copy_kept(path: &Path, resumed: &Resumed, out: &mut dyn Write) -> io::Result<()> {
    let mut lines = BufReader::new(File::open(path)?);
    let mut dropped = resumed.dropped_at.iter().copied().peekable();
    let mut offset = 0u64;
    let mut bytes = Vec::new();
    while offset < resumed.end {
        bytes.clear();
        let n = lines.read_until(b'\n', &mut bytes)?;
        if n == 0 {
            break;
        }
        let start = offset;
        offset += n as u64;
        if dropped.next_if_eq(&start).is_none() {
            out.write_all(&bytes)?;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(path: &Path) -> (Journal, Resumed) {
        let resumed = Resumed::read(Some(path), true).unwrap();
        let mut check = Resumed::read(Some(path), true).unwrap();
        let keys: Vec<bool> = ["a", "2", "c", "d"]
            .iter()
            .map(|k| check.contains(k).unwrap())
            .collect();
        assert_eq!(keys, [true, false, true, false], "a and c are done");
        (Journal::open(Some(path), check).unwrap(), resumed)
    }

    #[test]
    fn an_existing_file_is_refused_without_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, "{}\n").unwrap();
        let err = Resumed::read(Some(&path), false).err().unwrap();
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
        let content = "{\"id\":\"a\",\"line\":1,\"sequences\":[]}\n{\"id\":2,\"line\":2,\"error\":{\"category\":\"server\",\"message\":\"x\"}}\n{\"id\":\"c\",\"line\":3,\"sequences\":[]}\n{\"id\":\"a\",\"line\":1,\"sequences\":[1]}\n\n{\"id\":\"d\",\"li";
        fs::write(&path, content).unwrap();
        let (mut journal, resumed) = resume(&path);
        assert_eq!(resumed.kept(), 2);
        assert_eq!(
            resumed.dropped, 3,
            "the failure, the repeat of a, the torn line"
        );
        journal
            .append("{\"id\":\"d\",\"line\":4,\"sequences\":[]}")
            .unwrap();
        let expected = "{\"id\":\"a\",\"line\":1,\"sequences\":[]}\n{\"id\":\"c\",\"line\":3,\"sequences\":[]}\n{\"id\":\"d\",\"line\":4,\"sequences\":[]}\n";
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn an_intact_journal_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let content = "{\"id\":\"a\",\"sequences\":[]}\n{\"id\":\"c\",\"sequences\":[]}\n";
        fs::write(&path, content).unwrap();
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        let (_journal, resumed) = resume(&path);
        assert_eq!((resumed.kept(), resumed.dropped), (2, 0));
        assert_eq!(fs::read_to_string(&path).unwrap(), content);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
    }

    #[test]
    fn resume_without_a_file_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/out.jsonl");
        let mut resumed = Resumed::read(Some(&path), true).unwrap();
        assert!(!resumed.contains("a").unwrap());
        let mut journal = Journal::open(Some(&path), resumed).unwrap();
        journal.append("{}").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert!(Resumed::read(None, true).is_err());
    }
}
