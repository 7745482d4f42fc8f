//! The one size-limited reader: whole reads (prompts, files, HTTP bodies) and lines (JSONL
//! inputs and journals), each with a cap, so hostile input is an error and never an abort.

use std::fmt;
use std::io::{self, BufRead, Read};

/// The most text a prompt may hold: about four times the longest context a model takes.
pub const PROMPT_LIMIT: usize = 4 << 20;

/// The longest line of a JSONL input or journal, without its newline.
pub const LINE_LIMIT: usize = 64 << 20;

/// The error inside an `io::Error` when a read passes its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    /// The cap that was passed, in bytes.
    pub limit: usize,
    /// Whether a line (rather than a whole read) passed it.
    pub line: bool,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            true => write!(f, "a line is longer than the {} limit", size(self.limit)),
            false => write!(f, "larger than the {} limit", size(self.limit)),
        }
    }
}

impl std::error::Error for Exceeded {}

/// `limit` in the unit people read: `4 MiB`, `64 MiB`, `512 bytes`.
pub fn size(limit: usize) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else if limit >= 1 << 10 && limit.is_multiple_of(1 << 10) {
        format!("{} KiB", limit >> 10)
    } else {
        format!("{limit} bytes")
    }
}

/// The cap an `io::Error` reports, when it is one of ours.
pub fn exceeded(error: &io::Error) -> Option<Exceeded> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Exceeded>())
        .copied()
}

fn too_big(limit: usize, line: bool) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Exceeded { limit, line })
}

/// Reads `reader` to its end, failing once more than `limit` bytes arrive; `progress` runs
/// after each chunk (a stall watchdog's heartbeat). Memory never passes `limit` + 64 KiB.
pub fn read_all(
    reader: &mut dyn Read,
    limit: usize,
    mut progress: impl FnMut(),
) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    // 64 KiB reads bypass std's 8 KiB stdin buffer, so a poll before each read is truthful.
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(data),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if data.len() + n > limit {
            return Err(too_big(limit, false));
        }
        data.extend_from_slice(&chunk[..n]);
        progress();
    }
}

/// `read_until(b'\n')` with a cap: appends one line (with its newline, if any) to `buf` and
/// returns the bytes consumed; 0 at the end. A line longer than `limit` is an error (its
/// bytes are not kept, so memory stays within `limit`).
pub fn read_line(
    reader: &mut (impl BufRead + ?Sized),
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<usize> {
    let start = buf.len();
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(buf.len() - start);
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let content = buf.len() - start + taken - usize::from(done);
        if content > limit {
            buf.truncate(start);
            return Err(too_big(limit, true));
        }
        buf.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if done {
            return Ok(buf.len() - start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_up_to_the_limit_pass_and_longer_ones_fail() {
        let mut input = io::BufReader::with_capacity(3, &b"abcd\nabcde\nx"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut input, &mut buf, 4).unwrap(), 5);
        assert_eq!(buf, b"abcd\n");
        buf.clear();
        let err = read_line(&mut input, &mut buf, 4).unwrap_err();
        assert_eq!(
            exceeded(&err),
            Some(Exceeded {
                limit: 4,
                line: true
            })
        );
        assert!(buf.is_empty());
        assert_eq!(err.to_string(), "a line is longer than the 4 bytes limit");
    }

    #[test]
    fn an_endless_line_stops_at_the_limit() {
        let mut zeros = io::BufReader::new(io::repeat(0));
        let mut buf = Vec::new();
        let err = read_line(&mut zeros, &mut buf, 1 << 20).unwrap_err();
        assert!(exceeded(&err).is_some());
        assert!(buf.capacity() <= 2 << 20, "{}", buf.capacity());
    }

    #[test]
    fn whole_reads_stop_past_the_limit() {
        let mut calls = 0;
        let data = read_all(&mut &b"hello"[..], 5, || calls += 1).unwrap();
        assert_eq!((data.as_slice(), calls), (&b"hello"[..], 1));
        let err = read_all(&mut io::repeat(1), PROMPT_LIMIT, || {}).unwrap_err();
        assert_eq!(err.to_string(), "larger than the 4 MiB limit");
        assert_eq!(size(LINE_LIMIT), "64 MiB");
    }
}
