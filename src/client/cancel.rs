//! Requests still running on the server, and `cancel_future` for them when a run ends early
//! (a line's deadline, a signal, a failed batch) on a server that enables it.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use crate::client::core::Core;
use crate::client::transport::Request;

/// Below this much time left before the run's deadline no cancellation is sent.
pub(crate) const MIN_GRACE: Duration = Duration::from_secs(1);
/// The longest one `cancel_future` may take (best effort: it never fails the run).
const CANCEL_TIMEOUT: Duration = Duration::from_secs(1);
/// More pending requests than this are not tracked (a batch has at most `--parallel`).
const MAX_TRACKED: usize = 4096;

/// The request ids submitted and not yet answered.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    ids: Mutex<Vec<String>>,
}

impl Pending {
    /// Books `id` as running on the server.
    pub(crate) fn add(&self, id: &str) {
        let mut ids = self.lock();
        if ids.len() < MAX_TRACKED {
            ids.push(id.to_string());
        }
    }

    /// Forgets `id` (answered, failed, or cancelled).
    pub(crate) fn remove(&self, id: &str) {
        self.lock().retain(|known| known != id);
    }

    /// Takes every id still booked.
    pub(crate) fn take_all(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Best-effort `POST /api/v1/cancel_future {"request_id": …}` when the server enabled it
/// (`sample_cancel_enabled`) and at least [`MIN_GRACE`] of the run's deadline is left;
/// a short timeout, never an error. Returns whether it was sent.
pub(crate) fn cancel_future(core: &Core, request_id: &str) -> bool {
    core.pending.remove(request_id);
    if !core.cancel_enabled.load(Ordering::SeqCst) {
        return false;
    }
    let left = core.deadline().remaining();
    if left < MIN_GRACE {
        log::debug!("not cancelling request {request_id}: less than 1 s of the deadline left");
        return false;
    }
    let deadline = core.deadline().within(Some(CANCEL_TIMEOUT));
    let body = serde_json::json!({ "request_id": request_id }).to_string();
    let req = Request::post("/api/v1/cancel_future", body.into_bytes());
    match core.send_by(&req, deadline.remaining(), None, false, &deadline) {
        Ok(reply) => log::debug!("cancel_future {request_id}: HTTP {}", reply.status),
        Err(_) => log::debug!("cancel_future {request_id} failed; ignoring"),
    }
    true
}

/// Cancels every request still running (see [`cancel_future`]), oldest first, while the
/// run's grace lasts.
pub(crate) fn cancel_all(core: &Core) {
    for id in core.pending.take_all() {
        if !cancel_future(core, &id) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_ids_are_booked_and_forgotten() {
        let pending = Pending::default();
        pending.add("a");
        pending.add("b");
        pending.remove("a");
        assert_eq!(pending.take_all(), ["b"]);
        assert!(pending.take_all().is_empty());
    }
}
