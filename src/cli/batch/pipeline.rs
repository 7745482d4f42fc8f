//! Parallel workers with ordered output: jobs go out to N threads, results come back in input order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use crate::error::{Category, Error, Result};

/// What one job produced: the output line, and its failure category if it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The JSON line to write (without the newline).
    pub line: String,
    /// None on success.
    pub failure: Option<Category>,
}

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    /// Worker threads.
    pub parallel: usize,
    /// Stop feeding new jobs after the first failure.
    pub fail_fast: bool,
}

/// Counts the writer reports back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Lines written with a success.
    pub ok: usize,
    /// Lines written with a failure, by category.
    pub failed: BTreeMap<Category, usize>,
}

impl Tally {
    /// How many lines failed.
    pub fn failures(&self) -> usize {
        self.failed.values().sum()
    }
}

/// How far results may run ahead of the oldest unwritten one; bounds memory for any input length.
struct Window {
    written: Mutex<usize>,
    advanced: Condvar,
    size: usize,
}

impl Window {
    fn wait_for_room(&self, index: usize, stop: &AtomicBool) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        while index >= *written + self.size && !stop.load(Ordering::SeqCst) {
            written = self
                .advanced
                .wait(written)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    fn advance_to(&self, count: usize) {
        *self.written.lock().unwrap_or_else(|p| p.into_inner()) = count;
        self.advanced.notify_all();
    }
}

/// Runs `work` over `jobs` on `options.parallel` threads and hands each result to `write`, in order.
///
/// Stops early (after in-flight jobs) on an auth failure, on any failure with `fail_fast`, or
/// when `write` fails. Returns the tally of what was written.
pub fn run<J, W, S>(
    jobs: impl Iterator<Item = J> + Send,
    options: PipelineOptions,
    work: W,
    mut write: S,
) -> Result<Tally>
where
    J: Send,
    W: Fn(J) -> Finished + Sync,
    S: FnMut(&Finished, &Tally) -> Result<()>,
{
    let parallel = options.parallel.max(1);
    let window = Window {
        written: Mutex::new(0),
        advanced: Condvar::new(),
        size: parallel * 4,
    };
    let stop = AtomicBool::new(false);
    let (job_tx, job_rx) = mpsc::sync_channel::<(usize, J)>(parallel);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<(usize, Finished)>();
    thread::scope(|scope| {
        let (window, stop) = (&window, &stop);
        for _ in 0..parallel {
            let (job_rx, done_tx, work) = (Arc::clone(&job_rx), done_tx.clone(), &work);
            scope.spawn(move || worker(&job_rx, &done_tx, work, stop));
        }
        drop(done_tx);
        // The feeder owns the sender: when it returns, workers see the channel close and exit.
        scope.spawn(move || feed(jobs, job_tx, window, stop));
        let outcome = collect(&done_rx, window, stop, options, &mut write);
        // Whatever happened, let the feeder and workers wind down before the scope joins them.
        stop.store(true, Ordering::SeqCst);
        window.advanced.notify_all();
        drop(done_rx);
        outcome
    })
}

fn feed<J: Send>(
    jobs: impl Iterator<Item = J>,
    job_tx: SyncSender<(usize, J)>,
    window: &Window,
    stop: &AtomicBool,
) {
    for (index, job) in jobs.enumerate() {
        window.wait_for_room(index, stop);
        if stop.load(Ordering::SeqCst) || job_tx.send((index, job)).is_err() {
            return;
        }
    }
}

fn worker<J, W: Fn(J) -> Finished>(
    jobs: &Mutex<Receiver<(usize, J)>>,
    done: &mpsc::Sender<(usize, Finished)>,
    work: &W,
    stop: &AtomicBool,
) {
    loop {
        let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok((index, job)) = next else { return };
        // Once the batch is stopping, queued jobs are dropped unsampled.
        if stop.load(Ordering::SeqCst) {
            continue;
        }
        if done.send((index, work(job))).is_err() {
            return;
        }
    }
}

fn collect<S>(
    done: &Receiver<(usize, Finished)>,
    window: &Window,
    stop: &AtomicBool,
    options: PipelineOptions,
    write: &mut S,
) -> Result<Tally>
where
    S: FnMut(&Finished, &Tally) -> Result<()>,
{
    let mut pending = BTreeMap::new();
    let mut next = 0;
    let mut tally = Tally::default();
    for (index, finished) in done.iter() {
        pending.insert(index, finished);
        while let Some(finished) = pending.remove(&next) {
            match finished.failure {
                None => tally.ok += 1,
                Some(category) => *tally.failed.entry(category).or_default() += 1,
            }
            write(&finished, &tally)?;
            next += 1;
            window.advance_to(next);
            let halt = finished.failure == Some(Category::Auth)
                || (options.fail_fast && finished.failure.is_some());
            if halt {
                stop.store(true, Ordering::SeqCst);
                return Ok(tally);
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    if pending.is_empty() {
        Ok(tally)
    } else {
        Err(Error::Unexpected(
            "batch results were lost between workers and the writer".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ok(line: String) -> Finished {
        Finished {
            line,
            failure: None,
        }
    }

    fn run_numbers(
        count: usize,
        parallel: usize,
        work: impl Fn(usize) -> Finished + Sync,
    ) -> (Vec<String>, Tally) {
        let mut lines = Vec::new();
        let options = PipelineOptions {
            parallel,
            fail_fast: false,
        };
        let tally = run(0..count, options, work, |f, _| {
            lines.push(f.line.clone());
            Ok(())
        })
        .unwrap();
        (lines, tally)
    }

    #[test]
    fn output_keeps_input_order_under_random_latency() {
        let (lines, tally) = run_numbers(200, 16, |n| {
            // A cheap deterministic scramble of delays, 0–4 ms.
            thread::sleep(Duration::from_millis((n * 7919 % 5) as u64));
            ok(format!("line {n}"))
        });
        let expected: Vec<String> = (0..200).map(|n| format!("line {n}")).collect();
        assert_eq!(lines, expected);
        assert_eq!(tally.ok, 200);
    }

    #[test]
    fn parallel_one_and_sixteen_agree() {
        let work = |n: usize| ok(format!("{}", n * n));
        assert_eq!(run_numbers(100, 1, work).0, run_numbers(100, 16, work).0);
    }

    #[test]
    fn failures_are_counted_by_category_and_do_not_stop_the_batch() {
        let (lines, tally) = run_numbers(10, 4, |n| Finished {
            line: n.to_string(),
            failure: (n % 3 == 0).then_some(Category::Server),
        });
        assert_eq!(lines.len(), 10);
        assert_eq!(tally.ok, 6);
        assert_eq!(tally.failed.get(&Category::Server), Some(&4));
    }

    #[test]
    fn an_auth_failure_stops_the_batch() {
        let (lines, tally) = run_numbers(1000, 4, |n| Finished {
            line: n.to_string(),
            failure: (n == 5).then_some(Category::Auth),
        });
        assert_eq!(lines.last().map(String::as_str), Some("5"));
        assert_eq!(tally.failures(), 1);
    }

    #[test]
    fn fail_fast_stops_at_the_first_failure() {
        let mut lines = Vec::new();
        let options = PipelineOptions {
            parallel: 2,
            fail_fast: true,
        };
        let work = |n: usize| Finished {
            line: n.to_string(),
            failure: (n == 3).then_some(Category::User),
        };
        run(0..100, options, work, |f, _| {
            lines.push(f.line.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(lines, vec!["0", "1", "2", "3"]);
    }

    #[test]
    fn a_write_error_ends_the_run() {
        let options = PipelineOptions {
            parallel: 3,
            fail_fast: false,
        };
        let result = run(
            0..50,
            options,
            |n: usize| ok(n.to_string()),
            |f, _| {
                if f.line == "10" {
                    Err(Error::Unexpected("disk full".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(result.unwrap_err().to_string(), "disk full");
    }
}
