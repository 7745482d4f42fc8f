//! Parallel workers with ordered output: jobs go out to N threads, results come back in input order.
//!
//! Generic over what a job is and knows nothing of flags or output, so it sits below the CLI:
//! every batch format runs on it, and the fault suite drives it directly with panicking
//! workers, failing writers and stuck inputs.
//!
//! Threads: a feeder pulls jobs from the input, N scoped workers run them, and a writer puts
//! results in order and writes them. The calling thread supervises: it waits for the writer,
//! and at the deadline stops everything. No thread waits on another without a timeout and a
//! stop check, so the run always ends: the feeder and writer are detached, and if either is
//! stuck in I/O past the deadline it is left behind (it ends with the process).

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::error::{Category, Error, Result};
use crate::Deadline;

/// How often a waiting thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// How long after the deadline the writer may take to write what the workers finished.
const GRACE: Duration = Duration::from_secs(1);

/// A unit of work: it can describe its own failure when the worker could not.
pub trait Job: Send + 'static {
    /// The output line for this job when it failed with `category` and `message`.
    fn failure_line(&self, category: Category, message: &str) -> String;
}

/// What one job produced: the output line, and its failure category if it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The JSON line to write (without the newline).
    pub line: String,
    /// None on success.
    pub failure: Option<Category>,
}

impl Finished {
    /// The failed outcome of `job`.
    pub fn failed(job: &impl Job, category: Category, message: &str) -> Finished {
        Finished {
            line: job.failure_line(category, message),
            failure: Some(category),
        }
    }
}

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    /// Worker threads.
    pub parallel: usize,
    /// Stop feeding new jobs after the first failure.
    pub fail_fast: bool,
    /// When the whole run must end; what is not written by then is left out.
    pub deadline: Deadline,
}

/// Counts the writer reports back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Lines written with a success.
    pub ok: usize,
    /// Lines written with a failure, by category.
    pub failed: BTreeMap<Category, usize>,
    /// The deadline passed before the run was over: jobs may be missing from the output.
    pub timed_out: bool,
}

impl Tally {
    /// How many lines failed.
    pub fn failures(&self) -> usize {
        self.failed.values().sum()
    }

    /// How many lines were written.
    pub fn written(&self) -> usize {
        self.ok + self.failures()
    }
}

/// What every thread of a run shares.
struct State {
    /// Set once nothing more should be fed or worked on.
    stop: AtomicBool,
    /// What the writer has written so far (the tally of a stuck writer is still readable).
    written: Mutex<Tally>,
    /// Signalled when `written` grows or `stop` is set.
    advanced: Condvar,
    /// How far jobs may run ahead of the oldest unwritten one; bounds memory for any input.
    window: usize,
    /// The first internal failure of the feeder or the writer, if any.
    fault: Mutex<Option<Error>>,
}

impl State {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _written = lock(&self.written);
        self.advanced.notify_all();
    }

    /// Waits until job `index` fits in the window; false when the run is stopping instead.
    fn wait_for_room(&self, index: usize) -> bool {
        let mut written = lock(&self.written);
        loop {
            if self.stopping() {
                return false;
            }
            if index < written.written() + self.window {
                return true;
            }
            written = self
                .advanced
                .wait_timeout(written, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn record(&self, tally: &Tally) {
        *lock(&self.written) = tally.clone();
        self.advanced.notify_all();
    }

    /// Notes an internal failure (the first one wins) and stops the run.
    fn fail(&self, error: Error) {
        lock(&self.fault).get_or_insert(error);
        self.stop();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The message for a panic caught in the pipeline: always a bug in tinkex.
pub fn bug_message(payload: &(dyn std::any::Any + Send)) -> String {
    let cause = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into());
    format!("internal error: {cause} (a bug in tinkex; please report it)")
}

/// Runs `work` over `jobs` on `options.parallel` threads and hands each result to `write`, in order.
///
/// Stops early (after in-flight jobs) on an auth failure, on any failure with `fail_fast`, when
/// `write` fails, or at the deadline (then `timed_out` is set). A panicking `work` makes its job
/// a failure of category unexpected, and the run goes on. `work` must return by the deadline
/// (the sampler's calls are bounded by it); `jobs` and `write` may block: they are abandoned.
/// Returns the tally of what was written.
pub fn run<J, W, S>(
    jobs: impl Iterator<Item = J> + Send + 'static,
    options: PipelineOptions,
    work: W,
    write: S,
) -> Result<Tally>
where
    J: Job,
    W: Fn(&J) -> Finished + Sync,
    S: FnMut(&Finished, &Tally) -> Result<()> + Send + 'static,
{
    let parallel = options.parallel.max(1);
    let state = Arc::new(State {
        stop: AtomicBool::new(false),
        written: Mutex::new(Tally::default()),
        advanced: Condvar::new(),
        window: parallel * 4,
        fault: Mutex::new(None),
    });
    let (job_tx, job_rx) = mpsc::channel::<(usize, J)>();
    let (done_tx, done_rx) = mpsc::channel::<(usize, Finished)>();
    let (report_tx, report_rx) = mpsc::channel::<Result<()>>();
    let writer_state = Arc::clone(&state);
    detach("writer", move || {
        let outcome = write_all(&done_rx, &writer_state, options.fail_fast, write);
        writer_state.stop();
        let _ = report_tx.send(outcome);
    })?;
    let feeder_state = Arc::clone(&state);
    if let Err(e) = detach("feeder", move || feed(jobs, &job_tx, &feeder_state)) {
        state.stop();
        return Err(e);
    }
    let job_rx = Mutex::new(job_rx);
    let report = thread::scope(|scope| {
        start_workers(scope, parallel, &job_rx, &done_tx, &work, &state);
        drop(done_tx);
        let report = supervise(&report_rx, &options.deadline);
        state.stop();
        report
    });
    // The workers are joined; a writer still busy gets a moment to write what they finished.
    let timed_out = report.is_none();
    let report = report.or_else(|| report_rx.recv_timeout(GRACE).ok());
    if let Some(fault) = lock(&state.fault).take() {
        return Err(fault);
    }
    let mut tally = lock(&state.written).clone();
    tally.timed_out = timed_out;
    match report {
        Some(Err(error)) => Err(error),
        _ => Ok(tally),
    }
}

/// Waits for the writer's report; None when the deadline passes first. It wakes every
/// [`POLL`], so other reasons to stop (e.g. an interrupt flag) can be checked here.
fn supervise(report: &Receiver<Result<()>>, deadline: &Deadline) -> Option<Result<()>> {
    loop {
        let left = deadline.remaining();
        if left.is_zero() {
            return None;
        }
        match report.recv_timeout(left.min(POLL)) {
            Ok(outcome) => return Some(outcome),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                return Some(Err(Error::Unexpected(
                    "the batch writer ended without a result".into(),
                )))
            }
        }
    }
}

/// Starts a named thread that is never joined.
fn detach(name: &str, body: impl FnOnce() + Send + 'static) -> Result<()> {
    thread::Builder::new()
        .name(format!("tinkex-{name}"))
        .spawn(body)
        .map(drop)
        .map_err(|e| Error::Unexpected(format!("cannot start the batch {name} thread: {e}")))
}

fn start_workers<'scope, J: Job, W: Fn(&J) -> Finished + Sync>(
    scope: &'scope thread::Scope<'scope, '_>,
    parallel: usize,
    jobs: &'scope Mutex<Receiver<(usize, J)>>,
    done: &Sender<(usize, Finished)>,
    work: &'scope W,
    state: &'scope State,
) {
    let mut started = 0;
    for n in 0..parallel {
        let done = done.clone();
        let spawned = thread::Builder::new()
            .name(format!("tinkex-worker-{n}"))
            .spawn_scoped(scope, move || work_jobs(jobs, &done, work, state));
        match spawned {
            Ok(_) => started += 1,
            Err(e) => log::debug!("worker {n} could not start: {e}"),
        }
    }
    if started == 0 {
        state.fail(Error::Unexpected(
            "cannot start any batch worker thread".into(),
        ));
    }
}

fn feed<J: Job>(jobs: impl Iterator<Item = J>, job_tx: &Sender<(usize, J)>, state: &State) {
    let fed = panic::catch_unwind(AssertUnwindSafe(|| {
        for (index, job) in jobs.enumerate() {
            // The channel is unbounded: the window alone bounds what is queued or in flight.
            if !state.wait_for_room(index) || job_tx.send((index, job)).is_err() {
                return;
            }
        }
    }));
    if let Err(payload) = fed {
        state.fail(Error::Unexpected(bug_message(payload.as_ref())));
    }
}

fn work_jobs<J: Job, W: Fn(&J) -> Finished>(
    jobs: &Mutex<Receiver<(usize, J)>>,
    done: &Sender<(usize, Finished)>,
    work: &W,
    state: &State,
) {
    // Once the run is stopping, queued jobs are dropped unsampled.
    while !state.stopping() {
        let next = lock(jobs).recv_timeout(POLL);
        let (index, job) = match next {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if state.stopping() {
            return;
        }
        let finished =
            panic::catch_unwind(AssertUnwindSafe(|| work(&job))).unwrap_or_else(|payload| {
                Finished::failed(&job, Category::Unexpected, &bug_message(payload.as_ref()))
            });
        // Unbounded: never blocks; fails only once the writer is gone.
        if done.send((index, finished)).is_err() {
            return;
        }
    }
}

/// The writer: results put back in input order and written, until every worker is done.
fn write_all<S>(
    done: &Receiver<(usize, Finished)>,
    state: &State,
    fail_fast: bool,
    mut write: S,
) -> Result<()>
where
    S: FnMut(&Finished, &Tally) -> Result<()>,
{
    let mut pending = BTreeMap::new();
    let mut tally = Tally::default();
    loop {
        let (index, finished) = match done.recv_timeout(POLL) {
            Ok(result) => result,
            // Bounded by the workers, which are joined before the pipeline returns.
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        pending.insert(index, finished);
        while let Some(finished) = pending.remove(&tally.written()) {
            let mut next = tally.clone();
            match finished.failure {
                None => next.ok += 1,
                Some(category) => *next.failed.entry(category).or_default() += 1,
            }
            let written = panic::catch_unwind(AssertUnwindSafe(|| write(&finished, &next)))
                .unwrap_or_else(|payload| Err(Error::Unexpected(bug_message(payload.as_ref()))));
            written?;
            tally = next;
            state.record(&tally);
            let halt = finished.failure == Some(Category::Auth)
                || (fail_fast && finished.failure.is_some());
            if halt {
                return Ok(());
            }
        }
    }
    // Gaps are jobs dropped after a stop; without a stop, a gap is a lost result.
    if pending.is_empty() || state.stopping() {
        Ok(())
    } else {
        Err(Error::Unexpected(
            "batch results were lost between workers and the writer".into(),
        ))
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    impl Job for usize {
        fn failure_line(&self, category: Category, message: &str) -> String {
            format!("{self} {category}: {message}")
        }
    }

    fn ok(line: String) -> Finished {
        Finished {
            line,
            failure: None,
        }
    }

    fn options(parallel: usize, fail_fast: bool) -> PipelineOptions {
        PipelineOptions {
            parallel,
            fail_fast,
            deadline: Deadline::after(Duration::from_secs(600)),
        }
    }

    /// Runs `work` over 0..count and returns the lines written, and the tally.
    fn run_numbers(
        count: usize,
        options: PipelineOptions,
        work: impl Fn(&usize) -> Finished + Sync,
    ) -> (Vec<String>, Result<Tally>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let tally = run(0..count, options, work, move |f, _| {
            sink.lock().unwrap().push(f.line.clone());
            Ok(())
        });
        let lines = lines.lock().unwrap().clone();
        (lines, tally)
    }

    #[test]
    fn output_keeps_input_order_under_random_latency() {
        let (lines, tally) = run_numbers(200, options(16, false), |&n| {
            // A cheap deterministic scramble of delays, 0–4 ms.
            thread::sleep(Duration::from_millis((n * 7919 % 5) as u64));
            ok(format!("line {n}"))
        });
        let expected: Vec<String> = (0..200).map(|n| format!("line {n}")).collect();
        assert_eq!(lines, expected);
        assert_eq!(tally.unwrap().ok, 200);
    }

    #[test]
    fn failures_are_counted_by_category_and_do_not_stop_the_batch() {
        let (lines, tally) = run_numbers(10, options(4, false), |&n| Finished {
            line: n.to_string(),
            failure: (n % 3 == 0).then_some(Category::Server),
        });
        let tally = tally.unwrap();
        assert_eq!(lines.len(), 10);
        assert_eq!(tally.ok, 6);
        assert_eq!(tally.failed.get(&Category::Server), Some(&4));
    }
}
