//! Batch progress on stderr: done/total, rate and ETA. On a terminal one line is redrawn in
//! place; to a file or pipe (`--progress`) a new line is printed every few seconds.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crate::cli::live;
use crate::cli::logging::STATUS_TARGET;

/// How often a progress line may be printed to a file or pipe.
const EVERY: Duration = Duration::from_secs(3);

/// How often the in-place line on a terminal may be redrawn.
const EVERY_IN_PLACE: Duration = Duration::from_millis(250);

/// Tracks completed prompts and prints a line when it is time.
pub struct Progress {
    enabled: bool,
    in_place: bool,
    total: usize,
    started: Instant,
    last: Instant,
}

impl Progress {
    /// Progress for `total` prompts; shown when forced or when stderr is a terminal.
    pub fn new(total: usize, forced: bool) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: forced || std::io::stderr().is_terminal(),
            in_place: live::enabled(),
            total,
            started: now,
            last: now,
        }
    }

    /// Notes that `done` prompts are finished; draws or prints a line when it is time.
    pub fn update(&mut self, done: usize) {
        let every = if self.in_place { EVERY_IN_PLACE } else { EVERY };
        if !self.enabled || self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let text = line(done, self.total, self.started.elapsed());
        if self.in_place {
            live::show(&format!("tinkex: {text}"));
        } else {
            log::info!(target: STATUS_TARGET, "{text}");
        }
    }
}

impl Drop for Progress {
    /// The in-place line goes away with the batch; the summary line follows on a clean row.
    fn drop(&mut self) {
        if self.in_place {
            live::clear();
        }
    }
}

/// `500/1000 done, 12.3/s, ETA 41 s`.
fn line(done: usize, total: usize, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let eta = if rate > 0.0 {
        format!("{:.0} s", (total.saturating_sub(done)) as f64 / rate)
    } else {
        "unknown".into()
    };
    format!("{done}/{total} done, {rate:.1}/s, ETA {eta}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_rate_and_eta() {
        assert_eq!(
            line(500, 1000, Duration::from_secs(50)),
            "500/1000 done, 10.0/s, ETA 50 s"
        );
        assert_eq!(
            line(0, 10, Duration::from_secs(5)),
            "0/10 done, 0.0/s, ETA unknown"
        );
    }
}
