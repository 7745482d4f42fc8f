//! End to end, the fault matrix: every fault kind, once and persistently, on every endpoint,
//! against the built `tinkex` binary. Each case must end exactly as the retry rules say: a
//! success, or the documented exit code with a `tinkex: error:` line, within the deadline + 1 s,
//! leaving no output file behind.

use std::time::Duration;

use serde_json::Value;

use crate::demo::{DemoConfig, DemoServer, Endpoint, FaultKind, FaultSpec};
use crate::support::e2e::{parallel, run_args, Scratch};
use crate::support::Outcome;

/// `--timeout` of the fault runs, in seconds.
const DEADLINE: u64 = 3;

/// `--timeout` of the cases that make the 720 attempts of an hour of 402s (instant back-off,
/// but a busy machine needs seconds for that many requests).
const LONG_DEADLINE: u64 = 10;

/// The first heartbeat is sent 10 s into a run: heartbeat cases keep the sample running longer.
const HEARTBEAT_LATENCY_MS: u64 = 10_600;
const HEARTBEAT_DEADLINE: u64 = 14;

/// Tokens each successful run samples.
const MAX_TOKENS: usize = 4;

/// Cases run at once: most of them wait on a deadline, not on the CPU.
const WORKERS: usize = 24;

/// One cell of the matrix: `endpoint` gets `kind` on its first call, or on every call.
#[derive(Clone, Copy, Debug)]
struct Case {
    endpoint: Endpoint,
    kind: FaultKind,
    persistent: bool,
}

impl Case {
    fn name(&self) -> String {
        let times = if self.persistent { "" } else { "x1" };
        format!("{}={}{times}", self.endpoint.name(), self.kind)
    }

    fn deadline(&self) -> u64 {
        match (self.endpoint, self.kind) {
            (Endpoint::Heartbeat, _) => HEARTBEAT_DEADLINE,
            (_, FaultKind::Status(402)) if self.persistent => LONG_DEADLINE,
            _ => DEADLINE,
        }
    }
}

/// How a case must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Exit 0 with the sample written.
    Success,
    /// This exit code, a `tinkex: error:` line, no output file.
    Exit(i32),
}

/// The retry rules and caps of docs/protocol.md, applied to one case. With
/// `TINKEX_RETRY_SCALE=0` the caps counted in attempts or in (virtual) back-off time are
/// reached at once, so they end in exit 4 long before the deadline; rules without a cap run
/// into the deadline (exit 5).
fn expected(case: Case) -> Expect {
    use Expect::{Exit, Success};
    use FaultKind::*;
    let once = !case.persistent;
    match case.endpoint {
        // Neither ever fails a run.
        Endpoint::Heartbeat | Endpoint::Finish => Success,
        Endpoint::RetrieveFuture => match case.kind {
            // A bare 400 is re-polled at most 3 times in a row, then quoted as a user error.
            Status(400) => {
                if once {
                    Success
                } else {
                    Exit(2)
                }
            }
            // 402 repeats for at most 1 h.
            Status(402) => {
                if once {
                    Success
                } else {
                    Exit(4)
                }
            }
            // 408/5xx/try_again: poll again at once; 429/drop: back off; 410: re-submit. No cap.
            Status(_) | Drop | Never => {
                if once {
                    Success
                } else {
                    Exit(5)
                }
            }
            // A 200 that cannot be decoded is a server failure; re-polling is not in the rules.
            Malformed => Exit(4),
            // The per-poll limit (45 s) and the stall limit (15 s) are past the deadline.
            Hang | Stall => Exit(5),
        },
        // Setup calls and asample.
        endpoint => match case.kind {
            // Other 4xx are fatal user errors.
            Status(400 | 410) => Exit(2),
            // asample backpressure has no cap.
            Status(429) if endpoint == Endpoint::Asample && !once => Exit(5),
            // 10 retries (setup), 5 min of back-off (asample), 1 h of 402s.
            Status(_) | Drop => {
                if once {
                    Success
                } else {
                    Exit(4)
                }
            }
            Malformed => Exit(4),
            // The request timeout (60 s) is past the deadline.
            Hang | Stall | Never => Exit(5),
        },
    }
}

fn cases() -> Vec<Case> {
    let statuses = [400, 402, 408, 410, 429, 500, 503].map(FaultKind::Status);
    let kinds: Vec<FaultKind> = statuses.into_iter().chain(FaultKind::NAMED).collect();
    let mut cases = Vec::new();
    for endpoint in Endpoint::ALL {
        for kind in &kinds {
            for persistent in [false, true] {
                cases.push(Case {
                    endpoint,
                    kind: *kind,
                    persistent,
                });
            }
        }
    }
    // The longest cases first, so they overlap with everything else.
    cases.sort_by_key(|c| std::cmp::Reverse(c.deadline()));
    cases
}

/// The arguments of a case's run. `samplers` is only called when the model is given as a
/// `--model-path` alone and a tokenizer is needed; every other case samples token ids.
fn case_args(case: Case, url: &str, scratch: &Scratch) -> Vec<String> {
    let prompt = scratch.file("prompt.json", "[1, 2]");
    let out = scratch.join("out.json").to_string_lossy().into_owned();
    let deadline = case.deadline().to_string();
    let max_tokens = MAX_TOKENS.to_string();
    let mut extra = vec!["--prompt-file", &prompt, "--json", "--output", &out];
    extra.extend(["--max-tokens", &max_tokens, "--timeout", &deadline]);
    if case.endpoint == Endpoint::Samplers {
        extra.extend(["--model-path", "tinker://demo/sampler_weights/final"]);
    } else {
        extra.extend(["--base-model", "Qwen/Qwen3-8B", "--tokens-only"]);
    }
    run_args(url, &extra)
}

/// What a case did: `Err` says what was wrong; `Ok` tells whether the fault was ever hit.
fn run_case(case: Case) -> Result<bool, String> {
    let times = (!case.persistent).then_some(1);
    let heartbeat = case.endpoint == Endpoint::Heartbeat;
    let config = DemoConfig {
        faults: vec![FaultSpec::new(case.endpoint, case.kind, times)],
        jwt: case.endpoint == Endpoint::Auth,
        latency_ms: if heartbeat { HEARTBEAT_LATENCY_MS } else { 0 },
        poll_wait_ms: 200,
        // The Scratch's cache holds the small tokenizer as the model's: sample inside it.
        tokenizer: crate::support::fixture("small/tokenizer.json"),
        ..DemoConfig::default()
    };
    let server = DemoServer::start(config)?;
    let scratch = Scratch::new();
    let args = case_args(case, &server.url(), &scratch);
    let run = scratch.run(&args, Duration::from_secs(case.deadline() + 10));
    let reached = server
        .request_log()
        .iter()
        .any(|r| endpoint_of(&r.path) == Some(case.endpoint));
    check(case, &run, &scratch).map(|()| reached)
}

fn endpoint_of(path: &str) -> Option<Endpoint> {
    let rest = path.strip_prefix("/api/v1/")?;
    let name = match rest {
        "client/config" => "config",
        "auth/token" => "auth",
        r if r.starts_with("samplers/") => "samplers",
        r if r.starts_with("sessions/") => "finish",
        r => r,
    };
    name.parse().ok()
}

fn check(case: Case, run: &Outcome, scratch: &Scratch) -> Result<(), String> {
    let limit = Duration::from_secs(case.deadline() + 1);
    if run.elapsed > limit {
        return Err(format!("took {:?}, past the deadline + 1 s", run.elapsed));
    }
    if !run.stdout.is_empty() {
        return Err(format!(
            "stdout is not empty with --output: {:?}",
            run.stdout
        ));
    }
    let want = expected(case);
    match want {
        Expect::Success if run.code == 0 => check_written(scratch),
        Expect::Exit(code) if run.code == code => check_failure(case, run, scratch),
        _ => Err(format!(
            "expected {want:?}, got exit {}; stderr: {}",
            run.code, run.stderr
        )),
    }
}

/// The output file holds the JSON document with `MAX_TOKENS` sampled tokens.
fn check_written(scratch: &Scratch) -> Result<(), String> {
    let written = std::fs::read_to_string(scratch.join("out.json")).unwrap_or_default();
    let doc: Value = serde_json::from_str(&written).map_err(|e| format!("{e}: {written:?}"))?;
    match doc["sequences"][0]["tokens"].as_array() {
        Some(tokens) if tokens.len() == MAX_TOKENS => Ok(()),
        _ => Err(format!("exit 0 but the output is {written:?}")),
    }
}

/// One error line that says what happened, and nothing left in the scratch directory.
fn check_failure(case: Case, run: &Outcome, scratch: &Scratch) -> Result<(), String> {
    let errors = run.error_lines();
    let [line] = errors.as_slice() else {
        return Err(format!("not one `tinkex: error:` line: {}", run.stderr));
    };
    let wanted = match (run.code, case.kind) {
        (5, _) => "timed out".to_string(),
        (_, FaultKind::Status(code)) => format!("HTTP {code}"),
        (_, FaultKind::Malformed) => "not valid".to_string(),
        _ => String::new(),
    };
    if !line.contains(&wanted) {
        return Err(format!("the error line does not say {wanted:?}: {line}"));
    }
    let left = scratch.listing_except(&["prompt.json"]);
    if !left.is_empty() {
        return Err(format!("files left behind after failure: {left:?}"));
    }
    Ok(())
}

#[test]
fn fault_matrix() {
    let cases = cases();
    let results = parallel(cases.clone(), WORKERS, run_case);
    let mut failures = Vec::new();
    let mut unreached = Vec::new();
    for (case, result) in cases.iter().zip(&results) {
        match result {
            Ok(true) => {}
            Ok(false) => unreached.push(case.name()),
            Err(e) => failures.push(format!("{}: {e}", case.name())),
        }
    }
    let passed = cases.len() - failures.len() - unreached.len();
    // Straight to stderr, past the test harness's capture: the count shows in every run.
    let summary = format!(
        "fault matrix: {} cases ({} endpoints × {} faults × once/always), {passed} passed\n",
        cases.len(),
        Endpoint::ALL.len(),
        cases.len() / Endpoint::ALL.len() / 2
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), summary.as_bytes());
    assert!(unreached.is_empty(), "faults never hit: {unreached:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
