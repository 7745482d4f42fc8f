//! SIGINT, SIGTERM, SIGHUP and SIGQUIT: stop the credential command, remove registered temp
//! files, and exit 128 + the signal (130, 143, 129, 131).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The signals handled; each ends the run the same way.
const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The first signal received (0: none). A batch polls it to print what it finished.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Set while a thread polls [`received`] and exits itself: the handler then returns instead
/// of calling `_exit`, so that thread can print a summary first.
static DEFERRED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe calls here: atomics, kill, unlink and _exit. The credential
    // command runs in its own process group, which the terminal's Ctrl-C does not reach.
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    crate::cleanup::kill_running_group();
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
