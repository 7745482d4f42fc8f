//! Cache writes that do not hold up the run: a cold build hands its entry to a thread
//! and the process waits for those threads only on its way out.

use std::sync::Mutex;
use std::thread::JoinHandle;

/// Writer threads not yet joined.
static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Runs `write` on its own thread (inline when no thread can be started).
pub fn spawn(write: impl FnOnce() + Send + 'static) {
    let write = std::sync::Arc::new(Mutex::new(Some(write)));
    let on_thread = std::sync::Arc::clone(&write);
    let spawned = std::thread::Builder::new()
        .name("tinkex-cache-write".into())
        .spawn(move || take(&on_thread).map_or((), |w| w()));
    match spawned {
        Ok(handle) => lock().push(handle),
        Err(e) => {
            log::debug!("tokenizer cache written inline (no thread: {e})");
            if let Some(write) = take(&write) {
                write();
            }
        }
    }
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).take()
}

fn lock() -> std::sync::MutexGuard<'static, Vec<JoinHandle<()>>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits for every cache write started so far; call before the process exits.
pub fn finish() {
    let handles = std::mem::take(&mut *lock());
    for handle in handles {
        if handle.join().is_err() {
            log::debug!("a tokenizer cache write panicked; its temp file is removed on drop");
        }
    }
}
