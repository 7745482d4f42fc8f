//! One status line redrawn in place on a terminal (`\r`, cleared at the end): the elapsed time
//! of a single run's wait and a batch's progress. Every other stderr line goes through
//! [`print`], which clears the live line first, so the two never mix on one row.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::Level;

use crate::client::STATUS_TARGET;

/// Carriage return, then erase to the end of the row.
const CLEAR: &str = "\r\x1b[K";

/// A live line longer than this is cut, so it never wraps (a wrapped line cannot be redrawn).
const MAX_WIDTH: usize = 79;

/// How often the ticker redraws the elapsed time.
const TICK: Duration = Duration::from_millis(500);

/// What is on the terminal now.
#[derive(Default)]
struct Screen {
    /// A live line is drawn and not yet cleared.
    shown: bool,
    /// The queue state a running ticker shows (the client's last `queue …` status).
    queue: Option<String>,
    /// Whether a ticker is running (queue statuses then go into its line).
    ticking: bool,
}

static SCREEN: Mutex<Screen> = Mutex::new(Screen {
    shown: false,
    queue: None,
    ticking: false,
});

fn screen() -> std::sync::MutexGuard<'static, Screen> {
    SCREEN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether lines may be drawn in place: stderr is a terminal and status lines are shown.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal() && log::log_enabled!(target: STATUS_TARGET, Level::Info)
}

/// The bytes that replace the live line with `text` (cut to [`MAX_WIDTH`] characters).
pub fn render(text: &str) -> String {
    let cut: String = text.chars().take(MAX_WIDTH).collect();
    format!("{CLEAR}{cut}")
}

/// Draws `text` as the live line.
pub fn show(text: &str) {
    let mut screen = screen();
    write_stderr(&render(text));
    screen.shown = true;
}

/// Removes the live line, if one is drawn.
pub fn clear() {
    let mut screen = screen();
    if screen.shown {
        write_stderr(CLEAR);
        screen.shown = false;
    }
}

/// Prints a whole line (with its newline) to stderr, clearing the live line first.
pub fn print(line: &str) {
    let mut screen = screen();
    if screen.shown {
        write_stderr(CLEAR);
        screen.shown = false;
    }
    write_stderr(line);
}

/// Takes a `queue …` status into the running ticker's line; false when no ticker runs.
pub fn absorb_queue(text: &str) -> bool {
    let mut screen = screen();
    if !screen.ticking {
        return false;
    }
    let state = text.strip_suffix("; still waiting").unwrap_or(text);
    screen.queue = Some(state.to_string());
    true
}

fn write_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// `sampling 30 sequences from M… 9 s (queue paused: …)`.
pub fn ticker_line(base: &str, elapsed: Duration, queue: Option<&str>) -> String {
    let mut line = format!("{base} {} s", elapsed.as_secs());
    if let Some(queue) = queue {
        line.push_str(&format!(" ({queue})"));
    }
    line
}

/// Redraws `base` with the elapsed time until dropped; does nothing unless [`enabled`].
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts the ticker (only on a terminal with status lines on).
    pub fn start(base: String) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let mut ticker = Ticker { stop, thread: None };
        if !enabled() {
            return ticker;
        }
        screen().ticking = true;
        let stop = Arc::clone(&ticker.stop);
        let started = Instant::now();
        ticker.thread = thread::Builder::new()
            .name("tinkex-ticker".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let queue = screen().queue.clone();
                    show(&ticker_line(&base, started.elapsed(), queue.as_deref()));
                    thread::sleep(TICK);
                }
            })
            .ok();
        ticker
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            let mut screen = screen();
            screen.ticking = false;
            screen.queue = None;
            drop(screen);
            clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_line_returns_to_the_start_and_erases_the_row() {
        assert_eq!(render("12/60 done"), "\r\x1b[K12/60 done");
        let long = "x".repeat(200);
        assert_eq!(render(&long).chars().count(), CLEAR.len() + MAX_WIDTH);
    }

    #[test]
    fn the_ticker_shows_elapsed_time_and_the_queue() {
        let base = "sampling 30 sequences from m…";
        assert_eq!(
            ticker_line(base, Duration::from_millis(9400), None),
            "sampling 30 sequences from m… 9 s"
        );
        assert_eq!(
            ticker_line(
                base,
                Duration::from_secs(12),
                Some("queue paused: rate limit reached")
            ),
            "sampling 30 sequences from m… 12 s (queue paused: rate limit reached)"
        );
    }
}
