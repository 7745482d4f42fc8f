//! One overall deadline shared by every step of a run, so nothing can wait past `--timeout`.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The instant by which the whole run must be over.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    total: Duration,
}

impl Deadline {
    /// A deadline `total` from now.
    pub fn after(total: Duration) -> Deadline {
        Deadline {
            started: Instant::now(),
            total,
        }
    }

    /// A deadline `total` after `started` (for runs whose clock began earlier).
    pub fn starting_at(started: Instant, total: Duration) -> Deadline {
        Deadline { started, total }
    }

    /// The configured length of the whole run.
    pub fn total(&self) -> Duration {
        self.total
    }

    /// Time left before the deadline; zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.total.saturating_sub(self.started.elapsed())
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// `wanted`, shortened to what is left before the deadline.
    pub fn cap(&self, wanted: Duration) -> Duration {
        wanted.min(self.remaining())
    }

    /// The timeout error for `step`, naming what was waiting.
    pub fn timeout_error(&self, step: &str) -> Error {
        Error::Timeout {
            step: step.to_string(),
            seconds: self.total.as_secs_f64(),
            cause: None,
        }
    }

    /// Fails with the timeout error for `step` when the deadline has passed.
    pub fn check(&self, step: &str) -> Result<()> {
        if self.expired() {
            Err(self.timeout_error(step))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_never_exceeds_remaining() {
        let deadline = Deadline::after(Duration::from_millis(50));
        assert!(deadline.cap(Duration::from_secs(45)) <= Duration::from_millis(50));
        assert_eq!(deadline.cap(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn expired_deadline_reports_the_waiting_step() {
        let deadline = Deadline::starting_at(
            Instant::now() - Duration::from_secs(2),
            Duration::from_secs(1),
        );
        assert!(deadline.expired());
        let err = deadline.check("waiting for the sample result").unwrap_err();
        assert_eq!(
            err.to_string(),
            "timed out after 1 s while waiting for the sample result"
        );
        assert_eq!(err.exit_code(), 5);
    }
}
