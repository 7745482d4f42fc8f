//! The session heartbeat: a background thread that tells the server the session is alive.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::client::core::{Core, Failure};
use crate::client::transport::Request;

/// Handle to the heartbeat thread; stopping it (or dropping the handle) ends the thread.
pub(crate) struct Heartbeat {
    stop: Arc<(Mutex<bool>, Condvar)>,
}

impl Heartbeat {
    /// Starts beating for `session_id`: first at +interval, then every interval.
    pub(crate) fn start(core: Arc<Core>, session_id: String) -> Heartbeat {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("tinkex-heartbeat".to_string())
            .spawn(move || run(&core, &session_id, &flag));
        if let Err(err) = spawned {
            log::warn!("could not start the session heartbeat: {err}");
        }
        Heartbeat { stop }
    }

    /// Tells the thread to end; an in-flight heartbeat finishes on its own timeout.
    pub(crate) fn stop(&self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sleeps until `until` or until stopped; true when stopped.
fn wait_stopped(flag: &(Mutex<bool>, Condvar), until: Instant) -> bool {
    let (lock, cvar) = flag;
    let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
    while !*stopped {
        let now = Instant::now();
        if now >= until {
            return false;
        }
        stopped = cvar
            .wait_timeout(stopped, until - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    true
}

fn run(core: &Core, session_id: &str, flag: &(Mutex<bool>, Condvar)) {
    let timing = core.config.timing;
    let body = serde_json::json!({"session_id": session_id, "type": "session_heartbeat"});
    let req = Request::post("/api/v1/session_heartbeat", body.to_string().into_bytes());
    let started = Instant::now();
    let mut last_ok = started;
    let mut warned = false;
    for beat in 1u32.. {
        if wait_stopped(flag, started + timing.heartbeat_interval * beat) {
            return;
        }
        // One beat, a credential refresh included, never takes longer than its timeout.
        let deadline = core.deadline().within(Some(timing.heartbeat_timeout));
        if deadline.expired() {
            return;
        }
        let timeout = deadline.cap(timing.heartbeat_timeout);
        match core.send_by(&req, timeout, None, false, &deadline) {
            Ok(reply) if (200..300).contains(&reply.status) => {
                last_ok = Instant::now();
                warned = false;
                continue;
            }
            Ok(reply) if reply.status == 410 => {
                log::debug!("heartbeat: the server says the session is gone (410); stopping");
                return;
            }
            Ok(reply) => log::debug!("heartbeat failed: HTTP {}", reply.status),
            Err(Failure::Net(err)) => log::debug!("heartbeat failed: {}", err.describe()),
            Err(Failure::Fatal(err)) => log::debug!("heartbeat failed: {err}"),
        }
        let silent = last_ok.elapsed();
        if !warned && silent >= timing.heartbeat_warn_after {
            warned = true;
            log::warn!(
                "no successful session heartbeat for {} s; the server may end the session",
                silent.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wait_returns_early_when_stopped() {
        let flag = Arc::new((Mutex::new(false), Condvar::new()));
        let hb = Heartbeat {
            stop: Arc::clone(&flag),
        };
        hb.stop();
        let t = Instant::now();
        assert!(wait_stopped(&flag, Instant::now() + Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(1));
        let fresh = (Mutex::new(false), Condvar::new());
        assert!(!wait_stopped(
            &fresh,
            Instant::now() + Duration::from_millis(10)
        ));
    }
}
