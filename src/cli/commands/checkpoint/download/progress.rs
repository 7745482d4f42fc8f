//! Download progress on stderr: one redrawn line (bytes, rate, file) on a terminal, a line
//! per finished file otherwise. Server-given names pass the one scrub before printing.

use std::time::{Duration, Instant};

use crate::cli::{live, units};
use crate::client::STATUS_TARGET;
use crate::download::Event;
use crate::redact;

/// How often the live line is redrawn, at most.
const REDRAW: Duration = Duration::from_millis(200);

/// The file being downloaded and what was said about it.
pub struct Progress {
    live: bool,
    started: Instant,
    drawn: Option<Instant>,
    /// The current file's name, bytes written and size.
    current: Option<(String, u64, Option<u64>)>,
    /// Bytes of the files already finished.
    finished: u64,
}

impl Progress {
    /// A fresh progress display (redrawn in place only on a terminal with status lines on).
    pub fn new() -> Progress {
        Progress {
            live: live::enabled(),
            started: Instant::now(),
            drawn: None,
            current: None,
            finished: 0,
        }
    }

    /// Takes one event of the download.
    pub fn on(&mut self, event: Event) {
        match event {
            Event::Exporting => status(
                "weights/ checkpoints are exported first: starting a (billed) training session",
            ),
            Event::Unpacking => {
                self.file_done();
                status("unpacking the archive");
            }
            Event::File { name, done, total } => {
                if self.current.as_ref().is_some_and(|(n, _, _)| n != name) {
                    self.file_done();
                }
                self.current = Some((name.to_string(), done, total));
                if total == Some(done) {
                    self.file_done();
                } else {
                    self.redraw();
                }
            }
        }
    }

    /// The download ended: the last file is reported when it succeeded, the line cleared.
    pub fn end(&mut self, ok: bool) {
        if ok {
            self.file_done();
        }
        if self.live {
            live::clear();
        }
    }

    /// Says the current file is complete (a line on stderr) and forgets it.
    fn file_done(&mut self) {
        let Some((name, done, _)) = self.current.take() else {
            return;
        };
        self.finished += done;
        status(&format!(
            "downloaded {} ({})",
            shown(&name),
            units::bytes(done)
        ));
    }

    /// Redraws the live line, at most every [`REDRAW`].
    fn redraw(&mut self) {
        if !self.live || self.drawn.is_some_and(|at| at.elapsed() < REDRAW) {
            return;
        }
        let Some((name, done, total)) = &self.current else {
            return;
        };
        self.drawn = Some(Instant::now());
        let of = total.map_or(String::new(), |t| format!(" of {}", units::bytes(t)));
        live::show(&line(
            name,
            *done,
            &of,
            self.finished + done,
            self.started.elapsed(),
        ));
    }
}

/// `downloading model.safetensors: 12.0 MB of 50.0 MB, 31.5 MB/s`.
fn line(name: &str, done: u64, of: &str, all: u64, elapsed: Duration) -> String {
    let rate = (all as f64 / elapsed.as_secs_f64().max(0.001)) as u64;
    format!(
        "downloading {}: {}{of}, {}/s",
        shown(name),
        units::bytes(done),
        units::bytes(rate)
    )
}

/// A server-given name as printed: scrubbed, control characters escaped.
fn shown(name: &str) -> String {
    redact::scrub(&name.escape_debug().to_string()).into_owned()
}

/// A status line through the logger (hidden by `-q`, scrubbed like every stderr line).
fn status(text: &str) {
    log::info!(target: STATUS_TARGET, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_names_file_size_and_rate() {
        let text = line("a.bin", 1024, " of 2.0 KB", 2048, Duration::from_secs(2));
        assert_eq!(text, "downloading a.bin: 1.0 KB of 2.0 KB, 1.0 KB/s");
    }

    #[test]
    fn names_are_escaped_before_printing() {
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
    }
}
