//! SIGINT, SIGTERM, SIGHUP and SIGQUIT: stop the credential command, remove registered temp
//! files, and exit 128 + the signal (130, 143, 129, 131). A batch defers the exit to its
//! watcher; a download ([`Watch`]) turns the signal into a flag its progress callback reads.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::deadline::Deadline;

/// The signals handled; each ends the run the same way.
const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The first signal received (0: none). A batch polls it to print what it finished.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Set while a thread polls [`received`] and exits itself: the handler then returns instead
/// of calling `_exit`, so that thread can print a summary first.
static DEFERRED: AtomicBool = AtomicBool::new(false);

/// Set while a download runs: the handler only records the signal (no unlinking, no exit),
/// so the download can delete its export and finish its session before it cleans up.
static FLAG_ONLY: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe calls here: atomics, kill, unlink and _exit. The credential
    // command runs in its own process group, which the terminal's Ctrl-C does not reach.
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    crate::cleanup::kill_running_group();
    if FLAG_ONLY.load(Ordering::SeqCst) {
        return;
    }
    crate::cleanup::unlink_all();
    if DEFERRED.load(Ordering::SeqCst) {
        return;
    }
    // SAFETY: _exit is async-signal-safe and skips destructors that could take locks.
    unsafe { libc::_exit(128 + signal) }
}

/// The first signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Leaves the exit after a signal to a thread that polls [`received`] (true), or makes the
/// handler exit at once again (false). Whoever turns it off checks [`received`] afterwards.
pub fn defer_exit(on: bool) {
    DEFERRED.store(on, Ordering::SeqCst);
}

/// Installs the handlers; call once at startup.
pub fn install() {
    // SAFETY: the sigaction struct is zeroed then filled; the handler only does
    // async-signal-safe work. While it runs the other handled signals are blocked, so a
    // second Ctrl-C cannot interrupt the cleanup halfway.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in HANDLED {
            libc::sigaddset(&mut action.sa_mask, signal);
        }
        for signal in HANDLED {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// How long a download may take to clean up after a signal (delete its export, finish its
/// session, remove its staging directory) before the process exits anyway.
pub const CLEANUP_GRACE: Duration = Duration::from_secs(5);

/// How often the watch looks at the signal flag.
const POLL: Duration = Duration::from_millis(50);

/// While alive, a signal only sets the flag [`received`] reads; if the run has not ended
/// [`CLEANUP_GRACE`] later (a read blocked on a silent server), the watch removes the
/// registered files and exits 128 + the signal, never later than the deadline + 1 s.
pub struct Watch {
    over: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Starts watching; the run's `deadline` bounds the clean-up after a signal.
    pub fn start(deadline: &Deadline) -> Watch {
        let over = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&over);
        let last = deadline.remaining() + Duration::from_secs(1);
        let spawned = thread::Builder::new()
            .name("tinkex-signal-watch".into())
            .spawn(move || watch(&seen, last));
        // Without the watch the handler keeps exiting at once (same exit code, no clean-up).
        let thread = spawned.ok();
        FLAG_ONLY.store(thread.is_some(), Ordering::SeqCst);
        Watch { over, thread }
    }

    /// Ends the watch (the run ended by itself); signals exit at once again.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        FLAG_ONLY.store(false, Ordering::SeqCst);
        self.over.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls the flag; after a signal, waits for the run to end by itself, bounded.
fn watch(over: &AtomicBool, last: Duration) {
    let started = Instant::now();
    let mut signalled: Option<(i32, Instant)> = None;
    while !over.load(Ordering::SeqCst) {
        let now = Instant::now();
        if signalled.is_none() {
            signalled = received().map(|s| (s, now));
        }
        let late = |at: Instant| now >= at + CLEANUP_GRACE || now >= started + last;
        if let Some((signal, at)) = signalled.filter(|&(_, at)| late(at)) {
            log::warn!(
                "the clean-up after the signal took too long ({:?}); exiting",
                now - at
            );
            crate::cleanup::unlink_all();
            // SAFETY: _exit skips destructors other threads may be inside of; the registered
            // temp files were just removed.
            unsafe { libc::_exit(128 + signal) }
        }
        thread::sleep(POLL);
    }
}
