//! The batch pipeline under seeded faults: auth failures, panicking workers, failing and stuck
//! writers, stuck inputs, fail-fast. Every case must end in bounded time with exactly the
//! tally, lines and outcome a simple sequential model predicts.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tinkex::pipeline::{run, Finished, Job, PipelineOptions, Tally};
use tinkex::{Category, Deadline, Error};

/// What a job does when worked on.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    Fail(Category),
    Panic,
}

/// What the writer does at one line.
#[derive(Clone, Copy, Debug, PartialEq)]
enum WriterFault {
    None,
    FailAt(usize),
    StuckAt(usize),
}

#[derive(Debug)]
struct Item {
    index: usize,
    fault: Fault,
    delay_ms: u64,
}

impl Job for Item {
    fn failure_line(&self, category: Category, message: &str) -> String {
        format!("{} {category}: {message}", self.index)
    }
}

#[derive(Clone, Debug)]
struct Case {
    faults: Vec<Fault>,
    delays: Vec<u64>,
    parallel: usize,
    fail_fast: bool,
    writer: WriterFault,
    /// The input blocks forever before yielding this job.
    feeder_stuck_at: Option<usize>,
}

/// splitmix64: a tiny deterministic generator, so every run tries the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn case(rng: &mut Rng) -> Case {
    let count = 1 + rng.below(60) as usize;
    let faults = (0..count)
        .map(|_| match rng.below(40) {
            0 => Fault::Fail(Category::Auth),
            1..=2 => Fault::Panic,
            3..=4 => Fault::Fail(Category::Server),
            5 => Fault::Fail(Category::User),
            6 => Fault::Fail(Category::Timeout),
            _ => Fault::None,
        })
        .collect();
    let at = rng.below(count as u64) as usize;
    let (writer, feeder_stuck_at) = match rng.below(16) {
        0 => (WriterFault::StuckAt(at), None),
        1 => (WriterFault::None, Some(at)),
        2..=3 => (WriterFault::FailAt(at), None),
        _ => (WriterFault::None, None),
    };
    let stuck = matches!(writer, WriterFault::StuckAt(_)) || feeder_stuck_at.is_some();
    // Stuck cases run against a short deadline: no worker delay, so what is due gets written.
    let delays = (0..count)
        .map(|_| if stuck { 0 } else { rng.below(3) })
        .collect();
    Case {
        faults,
        delays,
        parallel: 1 + rng.below(8) as usize,
        fail_fast: rng.below(4) == 0,
        writer,
        feeder_stuck_at,
    }
}

fn panic_message(index: usize) -> String {
    format!("{index} unexpected: internal error: injected panic {index} (a bug in tinkex; please report it)")
}

fn outcome(index: usize, fault: Fault) -> Finished {
    match fault {
        Fault::None => Finished {
            line: format!("{index} ok"),
            failure: None,
        },
        Fault::Fail(category) => Finished {
            line: format!("{index} {category}"),
            failure: Some(category),
        },
        Fault::Panic => Finished {
            line: panic_message(index),
            failure: Some(Category::Unexpected),
        },
    }
}

/// The expected lines and result, by running the case in order on one thread.
fn model(case: &Case) -> (Vec<String>, Result<Tally, String>) {
    let mut lines = Vec::new();
    let mut tally = Tally::default();
    let limit = case.feeder_stuck_at.unwrap_or(case.faults.len());
    for (index, fault) in case.faults.iter().enumerate().take(limit) {
        match case.writer {
            WriterFault::FailAt(at) if at == index => {
                return (lines, Err(format!("disk full at line {index}")))
            }
            WriterFault::StuckAt(at) if at == index => {
                tally.timed_out = true;
                return (lines, Ok(tally));
            }
            _ => {}
        }
        let finished = outcome(index, *fault);
        lines.push(finished.line);
        match finished.failure {
            None => tally.ok += 1,
            Some(category) => *tally.failed.entry(category).or_default() += 1,
        }
        let halt = finished.failure == Some(Category::Auth)
            || (case.fail_fast && finished.failure.is_some());
        if halt {
            return (lines, Ok(tally));
        }
    }
    tally.timed_out = case.feeder_stuck_at.is_some();
    (lines, Ok(tally))
}

fn work(item: &Item) -> Finished {
    if item.delay_ms > 0 {
        thread::sleep(Duration::from_millis(item.delay_ms));
    }
    match item.fault {
        Fault::None | Fault::Fail(_) => outcome(item.index, item.fault),
        // resume_unwind skips the panic hook, so no message reaches the test output; a
        // panic the pipeline failed to catch would still end the case, and fail it.
        Fault::Panic => panic::resume_unwind(Box::new(format!("injected panic {}", item.index))),
    }
}

/// Jobs of `case`; blocks (until `release` is dropped) before the stuck one.
fn jobs(case: &Case, release: mpsc::Receiver<()>) -> impl Iterator<Item = Item> + Send + 'static {
    let (faults, delays, stuck) = (
        case.faults.clone(),
        case.delays.clone(),
        case.feeder_stuck_at,
    );
    (0..faults.len()).map_while(move |index| {
        if stuck == Some(index) {
            let _ = release.recv();
            return None;
        }
        Some(Item {
            index,
            fault: faults[index],
            delay_ms: delays[index],
        })
    })
}

/// Runs one case; the lines written, the result, and the wall time.
fn execute(case: &Case) -> (Vec<String>, Result<Tally, String>, Duration) {
    let stuck = case.feeder_stuck_at.is_some() || matches!(case.writer, WriterFault::StuckAt(_));
    // Generous for a loaded 2-core machine: a stuck case must still write every line before the stuck one.
    let deadline = Duration::from_millis(if stuck { 2_000 } else { 60_000 });
    let options = PipelineOptions {
        parallel: case.parallel,
        fail_fast: case.fail_fast,
        deadline: Deadline::after(deadline),
    };
    let (feeder_release, feeder_wait) = mpsc::channel::<()>();
    let (writer_release, writer_wait) = mpsc::channel::<()>();
    let written = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&written);
    let writer = case.writer;
    let write = move |finished: &Finished, _: &Tally| {
        let index: usize = finished.line.split(' ').next().unwrap().parse().unwrap();
        match writer {
            WriterFault::FailAt(at) if at == index => {
                return Err(Error::Unexpected(format!("disk full at line {index}")))
            }
            WriterFault::StuckAt(at) if at == index => {
                let _ = writer_wait.recv();
            }
            _ => {}
        }
        sink.lock().unwrap().push(finished.line.clone());
        Ok(())
    };
    let started = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        run(jobs(case, feeder_wait), options, work, write)
    }));
    let elapsed = started.elapsed();
    let lines = written.lock().unwrap().clone();
    // Let stuck threads finish now that the outcome is recorded.
    drop((feeder_release, writer_release));
    let result = match result {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(payload) => Err(format!("PANIC ESCAPED: {payload:?}")),
    };
    (lines, result, elapsed)
}

/// Counts of what the cases exercised, printed at the end.
#[derive(Default, Debug)]
struct Counts(BTreeMap<&'static str, usize>);

impl Counts {
    fn note(&mut self, case: &Case, result: &Result<Tally, String>) {
        let mut add = |what| *self.0.entry(what).or_default() += 1;
        add("cases");
        match result {
            Err(_) => add("write errors"),
            Ok(t) if t.timed_out && case.feeder_stuck_at.is_some() => add("stuck feeders"),
            Ok(t) if t.timed_out => add("stuck writers"),
            Ok(t) if t.failed.contains_key(&Category::Auth) => add("auth stops"),
            Ok(t) if case.fail_fast && t.failures() > 0 => add("fail-fast stops"),
            Ok(_) => add("ran to the end"),
        }
        if matches!(result, Ok(t) if t.failed.contains_key(&Category::Unexpected)) {
            add("with caught panics");
        }
    }
}

#[test]
fn seeded_faults_always_end_with_the_modelled_outcome() {
    const CASES: usize = 400;
    let mut rng = Rng(0x7117_CE55_BA7C_4001);
    let cases: Vec<Case> = (0..CASES).map(|_| case(&mut rng)).collect();
    let outcomes = crate::support::e2e::parallel(cases.clone(), 8, |case| execute(&case));
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    for (n, (case, (lines, result, elapsed))) in cases.iter().zip(outcomes).enumerate() {
        counts.note(case, &result);
        slowest = slowest.max(elapsed);
        let (want_lines, want_result) = model(case);
        if elapsed > Duration::from_secs(10) {
            failures.push(format!("case {n} took {elapsed:?}: {case:?}"));
        }
        if (&lines, &result) != (&want_lines, &want_result) {
            failures.push(format!(
                "case {n}: {case:?}\n  got {result:?} {lines:?}\n  want {want_result:?} {want_lines:?}"
            ));
        }
    }
    println!("hostile batch: {:?}; slowest case {slowest:?}", counts.0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(counts.0.len() >= 7, "every kind of case occurs: {counts:?}");
}

#[test]
fn a_panicking_worker_fails_its_line_and_the_rest_runs() {
    let mut faults = vec![Fault::None; 20];
    faults[7] = Fault::Panic;
    let case = Case {
        delays: vec![0; 20],
        faults,
        parallel: 4,
        fail_fast: false,
        writer: WriterFault::None,
        feeder_stuck_at: None,
    };
    let (lines, result, _) = execute(&case);
    let tally = result.unwrap();
    assert_eq!(
        (tally.ok, tally.failures(), tally.timed_out),
        (19, 1, false)
    );
    assert_eq!(lines[7], panic_message(7));
}

#[test]
fn a_stuck_input_and_a_stuck_writer_end_at_the_deadline() {
    for (writer, feeder_stuck_at) in [
        (WriterFault::StuckAt(3), None),
        (WriterFault::None, Some(3)),
    ] {
        let case = Case {
            faults: vec![Fault::None; 10],
            delays: vec![0; 10],
            parallel: 2,
            fail_fast: false,
            writer,
            feeder_stuck_at,
        };
        let (lines, result, elapsed) = execute(&case);
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
        let tally = result.unwrap();
        assert_eq!((tally.ok, tally.timed_out), (3, true));
        assert_eq!(lines, ["0 ok", "1 ok", "2 ok"]);
    }
}
