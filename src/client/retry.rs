//! Back-off delays and retry caps, from one injectable policy.
//!
//! Every delay the client waits comes from [`RetryPolicy`]: the protocol's
//! nominal delay, times the policy's scale, capped by the deadline. Time-based
//! caps (5 min for setup calls and `asample`, 1 h for 402) are measured on a
//! *virtual clock*: real time spent in requests plus the nominal (unscaled)
//! delays, so a policy with scale 0 or a recording sleeper reaches the caps
//! after the same number of attempts as real time would, without waiting.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::error::Result;

/// Setup calls (config, auth, sessions, samplers) retry at most this often.
pub(crate) const SETUP_MAX_RETRIES: u32 = 10;
/// Outer bound of setup-call and `asample` retries, in virtual time.
pub(crate) const RETRY_WINDOW: Duration = Duration::from_secs(300);
/// Setup calls stop retrying a server that cannot be reached after this long (virtual
/// time): ten 0.5·2ⁿ s back-offs take 49–69 s, so this is the figure the note can promise.
pub(crate) const UNREACHABLE_WINDOW: Duration = Duration::from_secs(60);
/// 402 (billing) answers are retried every this long...
pub(crate) const BILLING_INTERVAL: Duration = Duration::from_secs(5);
/// ...for at most this long, in virtual time.
pub(crate) const BILLING_WINDOW: Duration = Duration::from_secs(3600);
/// The pause between immediate re-polls once they come too fast.
pub(crate) const HOT_POLL_PAUSE: Duration = Duration::from_millis(500);

type Sleeper = Arc<dyn Fn(Duration) + Send + Sync>;

/// Where every back-off delay comes from: a scale factor and a sleeper.
#[derive(Clone)]
pub struct RetryPolicy {
    scale: f64,
    sleeper: Option<Sleeper>,
}

impl Default for RetryPolicy {
    /// The protocol's real delays.
    fn default() -> Self {
        RetryPolicy::scaled(1.0)
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("scale", &self.scale)
            .field("custom_sleeper", &self.sleeper.is_some())
            .finish()
    }
}

impl RetryPolicy {
    /// Every delay multiplied by `scale` (`TINKEX_RETRY_SCALE`); 0 retries at once.
    pub fn scaled(scale: f64) -> RetryPolicy {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            0.0
        };
        RetryPolicy {
            scale,
            sleeper: None,
        }
    }

    /// Replaces `thread::sleep` with `sleeper`, which gets each scaled delay
    /// (tests record the delays this way instead of waiting them out).
    pub fn with_sleeper(mut self, sleeper: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.sleeper = Some(Arc::new(sleeper));
        self
    }

    /// The scale factor applied to every delay.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Waits `nominal` (scaled, capped by the deadline) and books it on `clock`.
    /// Fails with the timeout error for `step` when the deadline cuts the wait short.
    pub(crate) fn sleep(
        &self,
        clock: &mut VirtualClock,
        nominal: Duration,
        deadline: &Deadline,
        step: &str,
    ) -> Result<()> {
        // Not `mul_f64`: a huge TINKEX_RETRY_SCALE would overflow it and panic.
        let wanted = Duration::try_from_secs_f64(nominal.as_secs_f64() * self.scale)
            .unwrap_or(Duration::MAX);
        let actual = deadline.cap(wanted);
        let started = Instant::now();
        if !actual.is_zero() {
            match &self.sleeper {
                Some(sleeper) => sleeper(actual),
                None => std::thread::sleep(actual),
            }
        }
        clock.book(nominal, started.elapsed());
        if actual < wanted || deadline.expired() {
            return Err(deadline.timeout_error(step));
        }
        Ok(())
    }
}

/// The longest `Retry-After` kept; anything longer is clamped to it (the deadline and the
/// retry rules cut every wait shorter still).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A `Retry-After` value as a wait: seconds (fractions allowed) or an HTTP date. Never panics:
/// negative or past values wait zero, huge ones are clamped to [`MAX_RETRY_AFTER`], and
/// anything unreadable (NaN, garbage, empty) is `None`.
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let secs = match value.parse::<f64>() {
        Ok(secs) => secs,
        Err(_) => http_date_from_now(value)?,
    };
    if secs.is_nan() {
        return None;
    }
    let clamped = secs.clamp(0.0, MAX_RETRY_AFTER.as_secs_f64());
    Some(Duration::try_from_secs_f64(clamped).unwrap_or(MAX_RETRY_AFTER))
}

/// Seconds from now until an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), negative if past.
fn http_date_from_now(value: &str) -> Option<f64> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let when = PARSER.parse_timestamp(value).ok()?;
    let millis = when.as_millisecond() - jiff::Timestamp::now().as_millisecond();
    Some(millis as f64 / 1000.0)
}

/// Setup calls: 0.5·2ⁿ s with ±25 % jitter, at most 10 s; `Retry-After` ≤ 60 s wins.
pub(crate) fn setup_delay(retry: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after.filter(|d| *d <= Duration::from_secs(60)) {
        return after;
    }
    let base = (0.5 * 2f64.powi(retry.min(16) as i32)).min(10.0);
    let jittered = base * jitter();
    Duration::from_secs_f64(jittered.min(10.0))
}

/// A factor in `[0.75, 1.25)`: ±25 % jitter, so clients that failed together retry apart.
fn jitter() -> f64 {
    rand::random_range(0.75..1.25)
}

/// A random UUID in version-4 format for `X-Idempotency-Key` (a fresh one per attempt, which
/// the protocol allows).
pub(crate) fn idempotency_key() -> String {
    let bits = (rand::random::<u128>() & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `asample` after 408/409/5xx/connection errors: 1, 2, 4 … 30 s.
pub(crate) fn asample_delay(retry: u32) -> Duration {
    Duration::from_secs(1u64 << retry.min(5)).min(Duration::from_secs(30))
}

/// `asample` after 429: 1 s, or 5 s for prompts over 128 KiB.
pub(crate) fn backpressure_delay(body_len: usize) -> Duration {
    if body_len > 128 * 1024 {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(1)
    }
}

/// `retrieve_future` after 429/connection errors: min(2ⁿ, 30) s.
pub(crate) fn poll_backoff(retry: u32) -> Duration {
    asample_delay(retry)
}

/// Before re-submitting after 410: 0.5·2ⁿ s (at most 30 s).
pub(crate) fn resubmit_delay(retry: u32) -> Duration {
    Duration::from_secs_f64((0.5 * 2f64.powi(retry.min(16) as i32)).min(30.0))
}

/// Time as the retry caps see it: real time, except that back-off sleeps count
/// at their nominal length however long they really took.
#[derive(Debug)]
pub(crate) struct VirtualClock {
    started: Instant,
    nominal_slept: Duration,
    real_slept: Duration,
}

impl VirtualClock {
    /// A clock reading zero now.
    pub(crate) fn start() -> VirtualClock {
        VirtualClock {
            started: Instant::now(),
            nominal_slept: Duration::ZERO,
            real_slept: Duration::ZERO,
        }
    }

    fn book(&mut self, nominal: Duration, real: Duration) {
        self.nominal_slept += nominal;
        self.real_slept += real;
    }

    /// Virtual time since [`VirtualClock::start`].
    pub(crate) fn elapsed(&self) -> Duration {
        (self.started.elapsed() + self.nominal_slept).saturating_sub(self.real_slept)
    }
}

/// The 402 rule: retry every 5 s for at most 1 h, warning once a minute.
#[derive(Debug, Default)]
pub(crate) struct Billing {
    since: Option<Duration>,
    warned_at: Option<Duration>,
}

impl Billing {
    /// Books a 402 seen at `now` (virtual); false once the hour is used up.
    pub(crate) fn allow_retry(&mut self, now: Duration, step: &str) -> bool {
        let since = *self.since.get_or_insert(now);
        if now.saturating_sub(since) >= BILLING_WINDOW {
            return false;
        }
        let due = self
            .warned_at
            .is_none_or(|at| now.saturating_sub(at) >= Duration::from_secs(60));
        if due {
            self.warned_at = Some(now);
            log::warn!(
                "the server reports a billing problem (HTTP 402) while {step}; retrying every 5 s for up to 1 h"
            );
        }
        true
    }

    /// Forgets earlier 402s once another answer arrives.
    pub(crate) fn reset(&mut self) {
        self.since = None;
        self.warned_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_delays_follow_the_jittered_doubling() {
        for n in 0..12 {
            let base = (0.5 * 2f64.powi(n)).min(10.0);
            let d = setup_delay(n as u32, None).as_secs_f64();
            assert!(
                d >= base * 0.75 - 1e-9 && d <= (base * 1.25).min(10.0) + 1e-9,
                "{n}: {d}"
            );
        }
        assert_eq!(
            setup_delay(3, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert!(setup_delay(0, Some(Duration::from_secs(61))) < Duration::from_secs(1));
    }

    #[test]
    fn fixed_delay_tables() {
        let secs: Vec<u64> = (0..7).map(|n| asample_delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backpressure_delay(10), Duration::from_secs(1));
        assert_eq!(backpressure_delay(200 * 1024), Duration::from_secs(5));
        assert_eq!(resubmit_delay(0), Duration::from_millis(500));
        assert_eq!(resubmit_delay(2), Duration::from_secs(2));
    }

    #[test]
    fn virtual_clock_counts_nominal_sleeps() {
        let policy = RetryPolicy::scaled(0.0);
        let deadline = Deadline::after(Duration::from_secs(5));
        let mut clock = VirtualClock::start();
        policy
            .sleep(&mut clock, Duration::from_secs(30), &deadline, "x")
            .unwrap();
        assert!(clock.elapsed() >= Duration::from_secs(30));
        assert!(clock.elapsed() < Duration::from_secs(31));
    }

    #[test]
    fn a_sleep_past_the_deadline_is_a_timeout() {
        let policy = RetryPolicy::scaled(1.0);
        let deadline = Deadline::after(Duration::from_millis(30));
        let mut clock = VirtualClock::start();
        let err = policy
            .sleep(
                &mut clock,
                Duration::from_secs(5),
                &deadline,
                "creating the session",
            )
            .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("creating the session"));
    }

    #[test]
    fn a_huge_scale_or_retry_after_never_panics() {
        let policy = RetryPolicy::scaled(1e300);
        let deadline = Deadline::after(Duration::from_millis(20));
        let mut clock = VirtualClock::start();
        let err = policy
            .sleep(&mut clock, Duration::from_secs(60), &deadline, "x")
            .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        // A Retry-After past 60 s is not honoured: the back-off applies.
        assert!(setup_delay(0, Some(Duration::MAX)) < Duration::from_secs(1));
    }

    #[test]
    fn retry_after_never_panics_and_is_clamped() {
        let secs = |s: u64| Some(Duration::from_secs(s));
        let table: &[(&str, Option<Duration>)] = &[
            ("", None),
            ("  ", None),
            ("3", secs(3)),
            (" 1.5 ", Some(Duration::from_millis(1500))),
            ("0", secs(0)),
            ("-5", secs(0)),
            ("-1e300", secs(0)),
            ("1e20", Some(MAX_RETRY_AFTER)),
            ("1e400", Some(MAX_RETRY_AFTER)),
            ("inf", Some(MAX_RETRY_AFTER)),
            ("-inf", secs(0)),
            ("NaN", None),
            ("garbage", None),
            ("\u{1b}[31m", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT", secs(0)),
            ("Thu, 01 Jan 2099 00:00:00 GMT", Some(MAX_RETRY_AFTER)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", None),
            ("Sun, 99 Nov 1994 08:49:37 GMT", None),
        ];
        for (value, expected) in table {
            assert_eq!(retry_after(value), *expected, "Retry-After: {value:?}");
        }
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&soon)
            .unwrap();
        let wait = retry_after(&date).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn billing_gives_up_after_an_hour() {
        let mut b = Billing::default();
        assert!(b.allow_retry(Duration::ZERO, "x"));
        assert!(b.allow_retry(Duration::from_secs(3599), "x"));
        assert!(!b.allow_retry(Duration::from_secs(3600), "x"));
        b.reset();
        assert!(b.allow_retry(Duration::from_secs(4000), "x"));
    }

    #[test]
    fn uuids_are_v4_shaped_and_distinct() {
        let a = idempotency_key();
        let b = idempotency_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            let x = jitter();
            assert!((0.75..1.25).contains(&x));
        }
    }
}
