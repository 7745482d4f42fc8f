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

    /// The instant the deadline falls on; `None` when it lies too far ahead to represent.
    pub fn ends_at(&self) -> Option<Instant> {
        self.started.checked_add(self.total)
    }

    /// Whichever of `a` and `b` falls first: a line's own `--timeout` inside a batch's
    /// deadline, a step's bound inside the run's. Its error names that deadline's length.
    pub fn earliest(a: Deadline, b: Deadline) -> Deadline {
        match (a.ends_at(), b.ends_at()) {
            (Some(x), Some(y)) if y < x => b,
            (None, Some(_)) => b,
            _ => a,
        }
    }

    /// This deadline, or one `step` from now when that falls first (`None`: no bound).
    pub fn within(&self, step: Option<Duration>) -> Deadline {
        match step {
            Some(step) => Deadline::earliest(*self, Deadline::after(step)),
            None => *self,
        }
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
    fn earliest_picks_the_first_to_end_and_names_its_length() {
        let batch = Deadline::after(Duration::from_secs(u64::MAX / 2));
        let line = Deadline::after(Duration::from_millis(50));
        let both = Deadline::earliest(batch, line);
        assert!(both.remaining() <= Duration::from_millis(50));
        assert_eq!(both.total(), Duration::from_millis(50));
        let other_order = Deadline::earliest(line, batch);
        assert_eq!(other_order.total(), Duration::from_millis(50));
        let soon = Deadline::after(Duration::from_secs(2));
        assert_eq!(
            soon.within(Some(Duration::from_secs(60))).total(),
            soon.total()
        );
        assert_eq!(
            batch.within(Some(Duration::from_secs(1))).total(),
            Duration::from_secs(1)
        );
        assert_eq!(batch.within(None).total(), batch.total());
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
