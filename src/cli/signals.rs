//! SIGINT, SIGTERM, SIGHUP and SIGQUIT: stop the credential command, remove registered temp
//! files, and exit 128 + the signal (130, 143, 129, 131).

use std::sync::atomic::{AtomicI32, Ordering};

/// The signals handled; each ends the run the same way.
const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The first signal received (0: none). Written before exiting so that a later handler may
/// instead leave the exit to the main thread (e.g. a batch that prints what it finished):
/// that thread would poll this flag, and the handler would return instead of `_exit`.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe calls here: atomics, kill, unlink and _exit. The credential
    // command runs in its own process group, which the terminal's Ctrl-C does not reach.
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    crate::client::kill_running_command();
    crate::cleanup::unlink_all();
    // SAFETY: _exit is async-signal-safe and skips destructors that could take locks.
    unsafe { libc::_exit(128 + signal) }
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
