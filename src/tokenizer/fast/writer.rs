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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn dropping_the_guard_waits_for_a_write_in_progress() {
        let done = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        {
            let _guard = crate::tokenizer::CacheWritesGuard::new();
            let flag = Arc::clone(&done);
            super::spawn(move || {
                started_tx.send(()).unwrap();
                // A slow disk: the write is still running when the command returns.
                std::thread::park_timeout(Duration::from_millis(200));
                flag.store(true, Ordering::SeqCst);
            });
            started_rx.recv().unwrap();
        }
        assert!(
            done.load(Ordering::SeqCst),
            "the guard returned before the write ended"
        );
    }
}
