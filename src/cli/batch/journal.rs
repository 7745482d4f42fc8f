//! The batch output journal: lines appended and flushed in order, resumable after any interruption.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::record;
use super::resumed::copy_kept;
pub use super::resumed::Resumed;
use super::source::LineHasher;
use crate::error::{Error, Result};

/// Where batch lines go, each stamped with the hash of the input line it answers.
pub struct Journal {
    to: Sink,
    stamp: Option<LineHasher>,
}

enum Sink {
    /// Standard output (no resume possible).
    Stdout,
    /// An append-only file, positioned at its end; its path for messages.
    File(File, PathBuf),
}
impl Journal {
    /// Opens the journal: keeps the good lines `resumed` found (rewriting the file atomically
    /// when it drops any) and appends after them.
    pub fn open(path: Option<&Path>, mut resumed: Resumed) -> Result<Journal> {
        let stamp = resumed.stamp.take();
        let Some(path) = path else {
            return Ok(Journal {
                to: Sink::Stdout,
                stamp,
            });
        };
        let existed = resumed.existed;
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
        // A new journal is created, never opened through a link planted in its place.
        let file = OpenOptions::new()
            .create_new(!existed)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(format!("--output {}: cannot open it", path.display()), e))?;
        Ok(Journal {
            to: Sink::File(file, path.to_path_buf()),
            stamp,
        })
    }

    /// Whether the lines go to stdout.
    pub fn is_stdout(&self) -> bool {
        matches!(self.to, Sink::Stdout)
    }

    /// Appends one line, stamped with its input line's hash, and flushes it, so an
    /// interruption never leaves it half-written in a buffer.
    pub fn append(&mut self, line: &str) -> Result<()> {
        let stamped = match (&mut self.stamp, record::line_of(line)) {
            (Some(hasher), Some(number)) => {
                let hash = hasher
                    .hash_of(number)
                    .map_err(|e| Error::io("cannot read the input back", e))?;
                record::stamped(line, &hash)
            }
            _ => line.to_string(),
        };
        let mut bytes = stamped.into_bytes();
        bytes.push(b'\n');
        match &mut self.to {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&bytes)
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io("cannot write to stdout", e))
            }
            Sink::File(file, path) => file
                .write_all(&bytes)
                .map_err(|e| Error::io(format!("--output {}: cannot append", path.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::batch::record::{line_hash, Kind};

    /// A success for input line `n`, whose text is `Ln`.
    fn rec(id: &str, n: usize) -> String {
        let h = line_hash(format!("L{n}").as_bytes());
        format!("{{\"id\":{id},\"line\":{n},\"sequences\":[],\"input_hash\":\"{h}\"}}\n")
    }

    fn resume(path: &Path) -> (Journal, Resumed) {
        let resumed = Resumed::read(Some(path), true).unwrap();
        let mut check = Resumed::read(Some(path), true).unwrap();
        let keys: Vec<bool> = [("a", 1), ("2", 2), ("c", 3), ("d", 4)]
            .iter()
            .map(|&(k, n)| {
                let h = line_hash(format!("L{n}").as_bytes());
                check.contains(k, n, &h).unwrap()
            })
            .collect();
        assert_eq!(keys, [true, false, true, false], "a and c are done");
        check.check_against(None, Kind::Run).unwrap();
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
        let failure =
            "{\"id\":2,\"line\":2,\"error\":{\"category\":\"server\",\"message\":\"x\"}}\n";
        let content = rec("\"a\"", 1)
            + failure
            + &rec("\"c\"", 3)
            + &rec("\"a\"", 1)
            + "\n{\"id\":\"d\",\"li";
        fs::write(&path, &content).unwrap();
        let (mut journal, resumed) = resume(&path);
        assert_eq!(resumed.kept(), 2);
        assert_eq!(
            resumed.dropped, 3,
            "the failure, the repeat of a, the torn line"
        );
        journal
            .append("{\"id\":\"d\",\"line\":4,\"sequences\":[]}")
            .unwrap();
        let expected =
            rec("\"a\"", 1) + &rec("\"c\"", 3) + "{\"id\":\"d\",\"line\":4,\"sequences\":[]}\n";
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn an_intact_journal_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let content = rec("\"a\"", 1) + &rec("\"c\"", 3);
        fs::write(&path, &content).unwrap();
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        let (_journal, resumed) = resume(&path);
        assert_eq!((resumed.kept(), resumed.dropped), (2, 0));
        assert_eq!(fs::read_to_string(&path).unwrap(), content);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
    }

    #[test]
    fn a_record_made_from_another_line_or_unmatched_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, rec("\"a\"", 1) + &rec("\"c\"", 3)).unwrap();
        let mut resumed = Resumed::read(Some(&path), true).unwrap();
        let err = resumed.contains("a", 1, "0000").unwrap_err().to_string();
        assert!(err.contains("row 1 was made from another input"), "{err}");
        let mut resumed = Resumed::read(Some(&path), true).unwrap();
        assert!(resumed.contains("a", 1, &line_hash(b"L1")).unwrap());
        let err = resumed
            .check_against(None, Kind::Run)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2 answers no line of this input"), "{err}");
        let err = resumed
            .check_against(None, Kind::Score)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is a journal of tinkex run, not of tinkex score"),
            "{err}"
        );
    }

    #[test]
    fn resume_without_a_file_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/out.jsonl");
        let mut resumed = Resumed::read(Some(&path), true).unwrap();
        assert!(!resumed.contains("a", 1, "x").unwrap());
        let mut journal = Journal::open(Some(&path), resumed).unwrap();
        journal.append("{}").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert!(Resumed::read(None, true).is_err());
    }
}
