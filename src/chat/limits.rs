//! The limits an untrusted chat template renders under: how large a value or the prompt may
//! grow, how deep our own recursion over template values may go, and the writers enforcing them.

use std::fmt;
use std::io;

use minijinja::{Error, ErrorKind, State};

/// The largest rendered prompt, and the largest value our filters and printing build.
pub const MAX_BYTES: usize = 64 << 20;

/// How deep our own recursion over template values (`tojson`, printing) may nest.
pub const MAX_DEPTH: usize = 128;

/// Text built under a byte limit: every push checks the limit before growing the string, so a
/// hostile separator or indent fails fast instead of allocating gigabytes first.
pub struct Bounded {
    text: String,
    limit: usize,
    /// Whether the limit is the remaining work budget (smaller than [`MAX_BYTES`]).
    fuel_bound: bool,
    what: &'static str,
}

impl Bounded {
    /// A writer for `what` (named in errors) holding at most [`MAX_BYTES`].
    pub fn new(what: &'static str) -> Bounded {
        Bounded {
            text: String::new(),
            limit: MAX_BYTES,
            fuel_bound: false,
            what,
        }
    }

    /// Like [`Bounded::new`], but also no larger than the bytes the render's remaining fuel pays
    /// for (the engine charges a value only once it is returned, too late to stop the building).
    pub fn for_state(state: &State, what: &'static str) -> Bounded {
        let mut out = Bounded::new(what);
        if let Some((_, remaining)) = state.fuel_levels() {
            let bytes = usize::try_from(remaining.saturating_mul(64)).unwrap_or(usize::MAX);
            if bytes < out.limit {
                out.limit = bytes;
                out.fuel_bound = true;
            }
        }
        out
    }

    /// Appends `s`, or fails if that would pass the limit.
    pub fn push_str(&mut self, s: &str) -> Result<(), Error> {
        if s.len() > self.limit - self.text.len() {
            return Err(self.overflow());
        }
        self.text.push_str(s);
        Ok(())
    }

    /// Appends `c`, or fails if that would pass the limit.
    pub fn push(&mut self, c: char) -> Result<(), Error> {
        self.push_str(c.encode_utf8(&mut [0; 4]))
    }

    /// Appends `s` `n` times, checking the total before allocating any of it.
    pub fn push_repeated(&mut self, s: &str, n: usize) -> Result<(), Error> {
        match s.len().checked_mul(n) {
            Some(total) if total <= self.limit - self.text.len() => {
                for _ in 0..n {
                    self.text.push_str(s);
                }
                Ok(())
            }
            _ => Err(self.overflow()),
        }
    }

    /// The text built so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The text built.
    pub fn into_string(self) -> String {
        self.text
    }

    fn overflow(&self) -> Error {
        if self.fuel_bound {
            return Error::from(ErrorKind::OutOfFuel);
        }
        too_large(self.what)
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s).map_err(|_| fmt::Error)
    }
}

/// The error for a value or output past [`MAX_BYTES`].
pub fn too_large(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} would be larger than 64 MiB, the limit for a template value"),
    )
}

/// The error for our recursion past [`MAX_DEPTH`].
pub fn too_deep(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{what}: the value is nested deeper than {MAX_DEPTH} levels"),
    )
}

/// Checks `level` (0 at the top) against [`MAX_DEPTH`].
pub fn check_depth(level: usize, what: &str) -> Result<(), Error> {
    if level >= MAX_DEPTH {
        return Err(too_deep(what));
    }
    Ok(())
}

/// The prompt's sink: keeps at most [`MAX_BYTES`] and remembers whether it refused more, so the
/// engine can tell that write failure from any other.
#[derive(Default)]
pub struct PromptWriter {
    /// The bytes written (UTF-8: the engine writes only `str`s).
    pub bytes: Vec<u8>,
    /// Set once a write would have passed the limit.
    pub overflowed: bool,
}

impl io::Write for PromptWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > MAX_BYTES - self.bytes.len() {
            self.overflowed = true;
            return Err(io::Error::other("the prompt would be larger than 64 MiB"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
