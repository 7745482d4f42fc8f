//! What to undo if a signal or a fatal fault ends the process: temp files in a fixed set of
//! slots a handler can read, and the child process group running now.
//!
//! Any layer that writes a temp file (the `--output` file, the tokenizer caches) registers it
//! here and keeps the [`Guard`] while the file exists; a registered directory (a download's
//! staging directory) is removed with its contents. A layer that runs a child in its own
//! process group (the credential command) records it with [`set_running_group`]. A signal
//! handler calls [`kill_running_group`] and [`unlink_all`]. This module depends on nothing else
//! in the crate, so low layers (chat's overflow handler, the client) need not know each other.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};

/// How many temp files can be registered at once; more are simply not cleaned up on a signal.
/// A run writes at most a few at a time (one output file, one or two cache files).
const SLOTS: usize = 16;

/// The registered paths: leaked C strings owned by their guards, or null.
static PATHS: [AtomicPtr<libc::c_char>; SLOTS] = [const { AtomicPtr::new(ptr::null_mut()) }; SLOTS];

/// Set by [`unlink_all`] before it reads any slot: a guard dropped after that leaks its
/// string instead of freeing it, because the handler may be reading it.
static UNLINKING: AtomicBool = AtomicBool::new(false);

/// The process group of the child running now in its own group (0: none).
static RUNNING_GROUP: AtomicI32 = AtomicI32::new(0);

/// Records the process group of a child just started (`pgid`), or that none runs (0).
pub fn set_running_group(pgid: i32) {
    RUNNING_GROUP.store(pgid, Ordering::SeqCst);
}

/// The process group recorded by [`set_running_group`] (0: none).
pub fn running_group() -> i32 {
    RUNNING_GROUP.load(Ordering::SeqCst)
}

/// Kills the recorded child process group, if any, with all its members.
///
/// Async-signal-safe (an atomic load and `kill(2)`), so a handler can call it before exiting:
/// the child runs in its own process group, which the terminal's Ctrl-C does not reach.
pub fn kill_running_group() {
    let pgid = RUNNING_GROUP.load(Ordering::SeqCst);
    if pgid > 0 {
        // SAFETY: kill(2) is async-signal-safe; a group already gone is harmless.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Keeps a temp file registered; dropping it unregisters the file (it does not delete it).
#[derive(Debug)]
#[must_use = "the file is unregistered when the guard is dropped"]
pub struct Guard {
    /// The slot and the string stored there; None when no slot was free.
    held: Option<(usize, *mut libc::c_char)>,
}

// SAFETY: the pointer is only a token for compare-and-swap and for freeing our own string.
unsafe impl Send for Guard {}

/// Registers `path` for removal on a signal until the returned guard is dropped.
pub fn register(path: &Path) -> Guard {
    let Ok(text) = CString::new(path.as_os_str().as_bytes()) else {
        return Guard { held: None };
    };
    let raw = text.into_raw();
    for (slot, cell) in PATHS.iter().enumerate() {
        let free = cell.compare_exchange(ptr::null_mut(), raw, Ordering::SeqCst, Ordering::SeqCst);
        if free.is_ok() {
            return Guard {
                held: Some((slot, raw)),
            };
        }
    }
    // SAFETY: `raw` came from `into_raw` above and was never shared.
    drop(unsafe { CString::from_raw(raw) });
    log::debug!("no cleanup slot free for {}", path.display());
    Guard { held: None }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some((slot, raw)) = self.held.take() else {
            return;
        };
        let _ =
            PATHS[slot].compare_exchange(raw, ptr::null_mut(), Ordering::SeqCst, Ordering::SeqCst);
        // The slot is cleared before the flag is read: if the flag is still false, a handler
        // starting now will find the slot empty, so the string can be freed.
        if !UNLINKING.load(Ordering::SeqCst) {
            // SAFETY: `raw` came from `into_raw` in `register` and is no longer reachable.
            drop(unsafe { CString::from_raw(raw) });
        }
    }
}

/// How deep a registered directory is emptied; downloads refuse deeper member paths.
pub const MAX_TREE_DEPTH: u32 = 16;

/// Unlinks every registered file and removes every registered directory with its contents.
/// Async-signal-safe: atomics and raw system calls (`unlinkat`, `openat`, `getdents64`,
/// `close`) with stack buffers only.
pub fn unlink_all() {
    UNLINKING.store(true, Ordering::SeqCst);
    for cell in &PATHS {
        let path = cell.load(Ordering::SeqCst);
        if !path.is_null() {
            // SAFETY: a registered string stays allocated once UNLINKING is set (see Drop).
            unsafe {
                remove_tree(libc::AT_FDCWD, path, MAX_TREE_DEPTH);
            }
        }
    }
}

/// Removes `path` (relative to `dirfd`): a file or link at once, a directory after its
/// entries, never following a symbolic link.
///
/// # Safety
/// `path` must be a valid NUL-terminated string and `dirfd` an open directory or AT_FDCWD.
unsafe fn remove_tree(dirfd: libc::c_int, path: *const libc::c_char, depth: u32) {
    if libc::unlinkat(dirfd, path, 0) == 0 || depth == 0 {
        return;
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let fd = libc::openat(dirfd, path, flags);
    if fd < 0 {
        return;
    }
    // Removing entries while reading the directory may hide some from this pass: read it
    // again from the start until a pass removes nothing (bounded).
    for _ in 0..64 {
        if empty_pass(fd, depth) == 0 {
            break;
        }
        libc::lseek(fd, 0, libc::SEEK_SET);
    }
    libc::close(fd);
    libc::unlinkat(dirfd, path, libc::AT_REMOVEDIR);
}

/// One pass over the open directory `fd`, removing each entry; how many entries it saw.
///
/// # Safety
/// `fd` must be an open directory.
unsafe fn empty_pass(fd: libc::c_int, depth: u32) -> usize {
    let mut seen = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len());
        if n <= 0 {
            return seen;
        }
        let mut at = 0usize;
        while at + 19 < n as usize {
            // linux_dirent64: ino u64, off i64, reclen u16, type u8, then the NUL-ended name.
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 {
                return seen;
            }
            let name = buf.as_ptr().add(at + 19) as *const libc::c_char;
            let dot = buf[at + 19] == b'.';
            let dots = dot && (buf[at + 20] == 0 || (buf[at + 20] == b'.' && buf[at + 21] == 0));
            if !dots {
                seen += 1;
                remove_tree(fd, name, depth - 1);
            }
            at += reclen;
        }
    }
}

/// Whether `path` is registered now (tests of the modules that register files).
#[cfg(test)]
pub(crate) fn is_registered(path: &Path) -> bool {
    let Ok(wanted) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    PATHS.iter().any(|cell| {
        let p = cell.load(Ordering::SeqCst);
        // SAFETY: test-only read while the registering guard is alive in the calling test.
        !p.is_null() && unsafe { std::ffi::CStr::from_ptr(p) } == wanted.as_c_str()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(path: &Path) -> bool {
        is_registered(path)
    }

    #[test]
    fn a_guard_registers_until_dropped() {
        let path = Path::new("/nonexistent/tinkex-cleanup-test-a");
        let guard = register(path);
        assert!(registered(path));
        drop(guard);
        assert!(!registered(path));
    }

    #[test]
    fn a_registered_directory_goes_with_its_contents() {
        let root = std::env::temp_dir().join(format!("tinkex-cleanup-tree-{}", std::process::id()));
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        for n in 0..200 {
            std::fs::write(root.join(format!("a/file-with-a-longish-name-{n}")), b"x").unwrap();
        }
        std::fs::write(root.join("a/b/c/deep"), b"y").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        let text = CString::new(root.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string, relative to the working directory.
        unsafe { remove_tree(libc::AT_FDCWD, text.as_ptr(), MAX_TREE_DEPTH) };
        assert!(!root.exists());
        assert!(Path::new("/etc/hostname").exists() || Path::new("/etc").exists());
    }

    #[test]
    fn more_files_than_slots_are_not_an_error() {
        let paths: Vec<_> = (0..SLOTS + 3)
            .map(|n| format!("/nonexistent/tinkex-cleanup-test-b{n}"))
            .collect();
        let guards: Vec<Guard> = paths.iter().map(|p| register(Path::new(p))).collect();
        assert!(guards.iter().filter(|g| g.held.is_none()).count() >= 3);
        drop(guards);
        assert!(paths.iter().all(|p| !registered(Path::new(p))));
    }
}
