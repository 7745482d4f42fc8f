//! Resuming a batch: what an existing output journal already holds, read before anything is
//! changed (kept successes by id, failed and torn lines to drop), and its kept part copied.

use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ids::{line_at, IdIndex, LineSet};
use super::input::id_key;
use super::record::{self, Kind, HASH_FIELD};
use super::source::LineHasher;
use crate::bounded::{self, LINE_LIMIT};
use crate::error::{Error, Result};

/// What an existing journal already holds, read before anything is changed: successful ids
/// as hashes (with where their lines start, to confirm a match), and the lines to drop.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Ids whose lines succeeded and are kept → the offsets and rows of those lines.
    done: IdIndex<(u64, usize)>,
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
    /// The journal's path, for messages.
    path: Option<PathBuf>,
    /// Its device and inode, to refuse the input itself as the journal.
    identity: Option<(u64, u64)>,
    /// What its successes are (all alike, or the journal is refused).
    kind: Option<Kind>,
    /// The rows of the kept records, in order; and those an input line matched.
    kept_rows: Vec<usize>,
    matched: LineSet,
    /// Whether the file existed (else it is created, never through a link).
    pub(super) existed: bool,
    /// Hashes the input's lines for the records appended (set by the validation pass).
    pub stamp: Option<LineHasher>,
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
        if !exists && fs::symlink_metadata(path).is_ok() {
            return Err(Error::input(format!(
                "--output {}: is a symbolic link to a missing file; refusing to create its target",
                path.display()
            )));
        }
        if exists && !resume {
            return Err(Error::Input {
                message: format!("--output {} already exists", path.display()),
                hint: Some("pass --resume to continue it, or choose another file".into()),
            });
        }
        if !exists {
            return Ok(Resumed::default());
        }
        let label = format!("--output {}", path.display());
        let mut resumed = scan(path)
            .map_err(|e| Error::io(format!("{label}: cannot read it to resume"), e))?
            .map_err(|row| not_a_journal(&label, row))?;
        resumed.path = Some(path.to_path_buf());
        resumed.existed = true;
        Ok(resumed)
    }

    /// Whether the journal holds a success for the id `key` (a hash match read back to
    /// confirm); it must have been made from this input line (`number`, `hash`).
    pub fn contains(&mut self, key: &str, number: usize, hash: &str) -> Result<bool> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(false);
        };
        let found = self
            .done
            .find(key, |(at, _)| {
                line_at(reader, at).map(|line| successful_id(&line).as_deref() == Some(key))
            })
            .map_err(|e| Error::io("--output: cannot read it back to resume", e))?;
        let Some((at, row)) = found else {
            return Ok(false);
        };
        let line =
            line_at(reader, at).map_err(|e| Error::io("--output: cannot read it back", e))?;
        let record = record::parse(line.as_bytes());
        let made_from = record.as_ref().map(|r| (r.line, r.input_hash.as_deref()));
        let label = self.label();
        match made_from {
            Some((line, Some(h))) if line == number && h == hash => {
                self.matched.insert(row);
                Ok(true)
            }
            Some((_, None)) => Err(unhashed(&label, row)),
            _ => Err(other_input(&label, row, number)),
        }
    }

    /// After the validation pass: refuses kept records no input line matched, the input itself
    /// as the journal, and a journal of the other command.
    pub fn check_against(&self, input: Option<(u64, u64)>, results: Kind) -> Result<()> {
        let label = self.label();
        if input.is_some() && input == self.identity {
            return Err(Error::input(format!(
                "{label}: is the input file itself (the same file, perhaps through a link); choose another --output"
            )));
        }
        if let Some(kind) = self.kind.filter(|k| *k != results) {
            return Err(Error::input(format!(
                "{label}: is a journal of {}, not of {}; choose another --output",
                kind.command(),
                results.command()
            )));
        }
        match self.kept_rows.iter().find(|&&row| !self.matched.contains(row)) {
            Some(&row) => Err(Error::Input {
                message: format!("{label}: row {row} answers no line of this input (its id is not there, or in another shard); the journal was made from another input"),
                hint: Some("use a new --output for this input".into()),
            }),
            None => Ok(()),
        }
    }

    fn label(&self) -> String {
        match &self.path {
            Some(path) => format!("--output {}", path.display()),
            None => "--output".into(),
        }
    }

    /// How many successful lines the journal keeps.
    pub fn kept(&self) -> usize {
        self.done.len()
    }

    pub(super) fn needs_rewrite(&self) -> bool {
        !self.dropped_at.is_empty() || self.end < self.size
    }
}

/// The first read of a journal: which lines are kept (successes, each id once) and which
/// not; `Err(row)` names the first complete row that is not a tinkex record.
fn scan(path: &Path) -> io::Result<std::result::Result<Resumed, usize>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    let mut lines = BufReader::new(file);
    let mut reader = BufReader::new(File::open(path)?);
    let mut resumed = Resumed {
        identity: Some((meta.dev(), meta.ino())),
        ..Resumed::default()
    };
    let mut bytes = Vec::new();
    let mut row = 0usize;
    loop {
        bytes.clear();
        let start = resumed.size;
        let n = bounded::read_line(&mut lines, &mut bytes, LINE_LIMIT)
            .map_err(|e| io::Error::new(e.kind(), format!("row {}: {e}", row + 1)))?;
        if n == 0 {
            break;
        }
        row += 1;
        resumed.size += n as u64;
        // Only newline-terminated lines are complete; whatever follows the last newline is torn.
        if bytes.last() != Some(&b'\n') {
            resumed.dropped += usize::from(!bytes.trim_ascii().is_empty());
            break;
        }
        resumed.end = resumed.size;
        let line = String::from_utf8_lossy(&bytes[..n - 1]);
        let blank = line.trim().is_empty();
        if !blank && !resumed.note_kind(&bytes[..n - 1]) {
            return Ok(Err(row));
        }
        let keep = match successful_id(&line) {
            // A repeated id (from an older, already-compacted journal) is kept once.
            Some(key) => {
                let repeated = resumed.done.find(&key, |(at, _)| {
                    line_at(&mut reader, at).map(|l| successful_id(&l).as_deref() == Some(&*key))
                })?;
                if repeated.is_none() {
                    resumed.done.insert_new(&key, (start, row));
                    resumed.kept_rows.push(row);
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
    Ok(Ok(resumed))
}

impl Resumed {
    /// Notes a row's kind; false when it is not a record, or of the other kind than before.
    fn note_kind(&mut self, bytes: &[u8]) -> bool {
        let Some(record) = record::parse(bytes) else {
            return false;
        };
        match (self.kind, record.kind) {
            (Some(a), Some(b)) if a != b => false,
            (None, Some(b)) => {
                self.kind = Some(b);
                true
            }
            _ => true,
        }
    }
}

fn not_a_journal(label: &str, row: usize) -> Error {
    Error::Input {
        message: format!(
            "{label}: row {row} is not a tinkex journal record ({}); refusing to resume it",
            record::SHAPE
        ),
        hint: Some("is --output the input file, or another file? choose a new --output".into()),
    }
}

fn unhashed(label: &str, row: usize) -> Error {
    Error::Input {
        message: format!("{label}: row {row} has no \"{HASH_FIELD}\" (written by an older tinkex), so it cannot be checked against this input"),
        hint: Some("finish it with the tinkex that wrote it, or use a new --output".into()),
    }
}

fn other_input(label: &str, row: usize, line: usize) -> Error {
    Error::Input {
        message: format!("{label}: row {row} was made from another input: line {line} of the input differs from the one it answers"),
        hint: Some("use a new --output for this input (a journal continues only the input it was made from)".into()),
    }
}

/// Streams the kept lines of the journal at `path` into `out`, one line in memory at a time.
pub(super) fn copy_kept(path: &Path, resumed: &Resumed, out: &mut dyn Write) -> io::Result<()> {
    let mut lines = BufReader::new(File::open(path)?);
    let mut dropped = resumed.dropped_at.iter().copied().peekable();
    let mut offset = 0u64;
    let mut bytes = Vec::new();
    while offset < resumed.end {
        bytes.clear();
        let n = bounded::read_line(&mut lines, &mut bytes, LINE_LIMIT)?;
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
