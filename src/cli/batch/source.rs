//! The batch input file: stdin spooled to a temp file, then read line by line (never all at once).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;

use super::record::line_hash;
use crate::bounded::{self, LINE_LIMIT};
use crate::cli::prompt::{readable_before, Source};
use crate::error::{Error, Result};
use crate::Deadline;

/// A readable input file, opened once; stdin and pipes are first spooled to an unnamed
/// temp file (it has no name to leak or to plant a symlink at, and vanishes with the process).
#[derive(Debug)]
pub struct InputFile {
    file: Arc<File>,
    label: String,
    /// The device and inode of a named input (or of a file redirected to stdin).
    identity: Option<(u64, u64)>,
}

/// Hashes input lines by number for the journal, reading forward as records arrive in order.
#[derive(Debug)]
pub struct LineHasher {
    reader: BufReader<At>,
    /// Lines read so far.
    read: usize,
}

impl LineHasher {
    /// The hash of line `number` (1-based) of the input.
    pub fn hash_of(&mut self, number: usize) -> io::Result<String> {
        if number <= self.read {
            self.reader.seek(SeekFrom::Start(0))?;
            self.read = 0;
        }
        let mut bytes = Vec::new();
        while self.read < number {
            bytes.clear();
            if bounded::read_line(&mut self.reader, &mut bytes, LINE_LIMIT)? == 0 {
                return Err(io::Error::other(format!("the input has no line {number}")));
            }
            self.read += 1;
        }
        Ok(line_hash(bytes.strip_suffix(b"\n").unwrap_or(&bytes)))
    }
}

/// A reader of the shared input with its own position (`pread`), so passes do not interfere.
#[derive(Debug)]
pub(super) struct At {
    file: Arc<File>,
    position: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for At {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.position = match to {
            SeekFrom::Start(at) => at,
            _ => return Err(io::Error::other("input readers seek from the start only")),
        };
        Ok(self.position)
    }
}

/// One non-blank input line: its 1-based number, where it starts, and its text.
pub(super) struct Line {
    /// 1-based, blank lines counted.
    pub number: usize,
    /// Where the line starts in the input.
    pub offset: u64,
    /// The text without its newline, or why it cannot be read.
    pub text: Result<String, String>,
}

impl InputFile {
    /// Opens `--input`, spooling stdin (or a pipe) to a temp file so memory stays flat; a
    /// pipe that stays open without data ends at `deadline`.
    pub fn open(source: &Source, deadline: &Deadline) -> Result<InputFile> {
        let identity = |file: &File| file.metadata().ok().map(|m| (m.dev(), m.ino()));
        let named = match source {
            Source::File(path) => File::open(path).ok().as_ref().and_then(identity),
            // `--input - < out.jsonl`: the redirected file is the input.
            Source::Stdin => io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(File::from)
                .as_ref()
                .and_then(identity),
        };
        let (file, label) = match source {
            Source::File(path) => {
                let label = format!("--input {}", path.display());
                let file = File::open(path).map_err(|e| Error::unreadable(&label, &e))?;
                let kind = file
                    .metadata()
                    .map_err(|e| Error::unreadable(&label, &e))?
                    .file_type();
                if kind.is_dir() {
                    return Err(Error::input(format!("{label}: is a directory")));
                }
                // A pipe or device can be read only once, and the input is read twice.
                let file = match kind.is_file() {
                    true => file,
                    false => spool(file, &label, deadline)?,
                };
                (file, label)
            }
            Source::Stdin => (
                spool(io::stdin().lock(), "--input - (stdin)", deadline)?,
                "--input - (stdin)".to_string(),
            ),
        };
        Ok(InputFile {
            file: Arc::new(file),
            label,
            identity: named,
        })
    }

    /// How messages name the input (`--input FILE`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The device and inode of a named input, to refuse it as its own `--output`.
    pub fn identity(&self) -> Option<(u64, u64)> {
        self.identity
    }

    /// A hasher of this input's lines, for the journal's records.
    pub fn hasher(&self) -> LineHasher {
        LineHasher {
            reader: self.reader_from_start(),
            read: 0,
        }
    }

    /// A buffered reader of the input from its start, independent of every other.
    pub(super) fn reader_from_start(&self) -> BufReader<At> {
        BufReader::new(At {
            file: Arc::clone(&self.file),
            position: 0,
        })
    }

    /// Non-blank lines with their numbers and offsets; a line that is not UTF-8 holds an error.
    /// A line past [`LINE_LIMIT`] (or a read error) is the last item: nothing after it is read.
    pub(super) fn lines(&self) -> impl Iterator<Item = Line> + Send + 'static {
        let mut reader = self.reader_from_start();
        let (mut number, mut offset, mut ended) = (0usize, 0u64, false);
        std::iter::from_fn(move || loop {
            if ended {
                return None;
            }
            let mut bytes = Vec::new();
            let start = offset;
            number += 1;
            let text = match bounded::read_line(&mut reader, &mut bytes, LINE_LIMIT) {
                Ok(0) => return None,
                Ok(n) => {
                    offset += n as u64;
                    if bytes.last() == Some(&b'\n') {
                        bytes.pop();
                    }
                    String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())
                }
                Err(e) => {
                    ended = true;
                    Err(format!("cannot read it: {e}"))
                }
            };
            match text {
                Ok(text) if text.trim().is_empty() => continue,
                text => {
                    return Some(Line {
                        number,
                        offset: start,
                        text,
                    })
                }
            }
        })
    }
}

/// Copies `from` into an unnamed temp file (mode 0600, in `TMPDIR`) and returns it.
fn spool(mut from: impl Read + AsRawFd, label: &str, deadline: &Deadline) -> Result<File> {
    let mut file =
        tempfile::tempfile().map_err(|e| Error::io("cannot spool the input to a temp file", e))?;
    // Reads of 64 KiB go straight to the descriptor (stdin's buffer stays empty), so polling
    // the descriptor tells truly whether a read would block.
    let mut buffer = vec![0; 64 * 1024];
    loop {
        wait_readable(from.as_raw_fd(), deadline, label)?;
        let n = match from.read(&mut buffer) {
            Ok(0) => return Ok(file),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("cannot read {label}"), e)),
        };
        file.write_all(&buffer[..n])
            .map_err(|e| Error::io("cannot spool the input to a temp file", e))?;
    }
}

/// Waits until `fd` has data (or its end) to read; a timeout error at `deadline`.
fn wait_readable(fd: RawFd, deadline: &Deadline, label: &str) -> Result<()> {
    match readable_before(fd, deadline) {
        true => Ok(()),
        false => Err(deadline.timeout_error(&format!("reading {label}"))),
    }
}
