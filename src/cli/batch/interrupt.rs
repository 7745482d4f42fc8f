//! Ctrl-C or SIGTERM during a batch: one summary line of what the output holds, then exit
//! 128 + the signal within a second. The signal handler only sets a flag; a watcher thread
//! polls it, so the printing happens outside the handler.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::signals;

/// How often the watcher looks at the signal flag.
const POLL: Duration = Duration::from_millis(50);

/// How long the summary waits for a line being written to finish.
const WRITE_GRACE: Duration = Duration::from_millis(500);

/// What the watcher and the writer share.
struct Shared {
    /// Held while a line is appended and counted, so the summary never counts half a line.
    writing: Mutex<()>,
    /// Lines the output holds for this input (kept from an earlier run plus written now).
    written: AtomicUsize,
    /// Prompts in the input.
    total: usize,
    /// `int.jsonl`, or None for stdout.
    output: Option<String>,
    /// Set when the batch is over: the watcher ends.
    over: AtomicBool,
    /// Set by whoever prints the summary, so it is printed once.
    reported: AtomicBool,
}

/// The watch over one batch; the writer counts lines through it.
#[derive(Clone)]
pub struct Interrupt {
    shared: Arc<Shared>,
}

impl Interrupt {
    /// Starts watching: from now on a signal prints the summary instead of exiting at once.
    pub fn start(total: usize, already: usize, output: Option<&Path>) -> Interrupt {
        let shared = Arc::new(Shared {
            writing: Mutex::new(()),
            written: AtomicUsize::new(already),
            total,
            output: output.map(|p| p.display().to_string()),
            over: AtomicBool::new(false),
            reported: AtomicBool::new(false),
        });
        let watched = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("tinkex-interrupt".into())
            .spawn(move || watch(&watched));
        // Without a watcher the handler keeps exiting at once (no summary, same exit code).
        if spawned.is_ok() {
            signals::defer_exit(true);
        }
        Interrupt { shared }
    }

    /// Held while one line is written; call [`Interrupt::wrote`] before dropping it.
    pub fn writing(&self) -> MutexGuard<'_, ()> {
        self.shared
            .writing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one line written.
    pub fn wrote(&self) {
        self.shared.written.fetch_add(1, Ordering::SeqCst);
    }

    /// Ends the watch; a signal that arrived meanwhile still gets its summary and exit.
    pub fn finish(&self) {
        self.shared.over.store(true, Ordering::SeqCst);
        signals::defer_exit(false);
        if let Some(signal) = signals::received() {
            exit(&self.shared, signal);
        }
    }
}

fn watch(shared: &Shared) {
    while !shared.over.load(Ordering::SeqCst) {
        if let Some(signal) = signals::received() {
            exit(shared, signal);
        }
        thread::sleep(POLL);
    }
}

/// Prints the summary once and exits 128 + `signal`.
fn exit(shared: &Shared, signal: i32) {
    if shared.reported.swap(true, Ordering::SeqCst) {
        // The other caller prints and exits; wait for it.
        loop {
            thread::sleep(POLL);
        }
    }
    // A writer stuck on a full pipe must not hold the exit up: wait a moment, then go on.
    let started = Instant::now();
    let guard = loop {
        match shared.writing.try_lock() {
            Ok(guard) => break Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => break Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if started.elapsed() < WRITE_GRACE => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(std::sync::TryLockError::WouldBlock) => break None,
        }
    };
    let written = shared.written.load(Ordering::SeqCst);
    crate::cli::live::clear();
    eprintln!(
        "tinkex: {}",
        summary(written, shared.total, shared.output.as_deref())
    );
    drop(guard);
    // SAFETY: _exit ends the process without running destructors other threads may be using;
    // temp files were removed by the handler, and every output line is already flushed.
    unsafe { libc::_exit(128 + signal) }
}

/// `interrupted: 28/60 written to int.jsonl; run again with --resume to finish`.
fn summary(written: usize, total: usize, output: Option<&str>) -> String {
    match output {
        Some(path) => format!(
            "interrupted: {written}/{total} written to {path}; run again with --resume to finish"
        ),
        None => format!("interrupted: {written}/{total} written to stdout"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_output_and_how_to_finish() {
        assert_eq!(
            summary(28, 60, Some("int.jsonl")),
            "interrupted: 28/60 written to int.jsonl; run again with --resume to finish"
        );
        assert_eq!(summary(3, 10, None), "interrupted: 3/10 written to stdout");
    }
}
