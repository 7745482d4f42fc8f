//! Ctrl-C and SIGTERM: stop the credential command and remove the temp output file, if any; exit 130 / 143.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The temp file to unlink if a signal arrives while it exists (a leaked C string, or null).
static PENDING_TEMP: AtomicPtr<libc::c_char> = AtomicPtr::new(ptr::null_mut());

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe calls here: kill, unlink and _exit. The credential command
    // runs in its own process group, which the terminal's Ctrl-C does not reach.
    crate::client::kill_running_command();
    let path = PENDING_TEMP.load(Ordering::SeqCst);
    unsafe {
        if !path.is_null() {
            libc::unlink(path);
        }
        libc::_exit(128 + signal);
    }
}

/// Installs the handlers; call once at startup.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Registers `path` as the temp file a signal must remove (None: nothing pending).
pub fn set_pending_temp(path: Option<&Path>) {
    let new = path
        .and_then(|p| CString::new(p.as_os_str().as_bytes()).ok())
        .map_or(ptr::null_mut(), CString::into_raw);
    // The old string is leaked on purpose: a handler running on another thread may still
    // hold it, and a few bytes per output file are cheaper than that race.
    PENDING_TEMP.swap(new, Ordering::SeqCst);
}
