//! End to end: the built `tinkex` binary against the demo server — a happy path per output mode,
//! and a fault matrix (every fault kind, once and persistently, on every endpoint).

use std::path::PathBuf;
use std::time::Duration;

use crate::demo::model::demo_text;
use crate::demo::{DemoConfig, DemoServer, Endpoint, FaultKind, FaultSpec, DEFAULT_TOKENIZER};
use crate::e2e_util::{parallel, tinkex, Run, Scratch};

/// `--timeout` of the fault runs, in seconds.
const DEADLINE: u64 = 4;

/// Heartbeats start 10 s into a run: these runs are kept busy that long.
const HEARTBEAT_LATENCY_MS: u64 = 10_500;
const HEARTBEAT_DEADLINE: u64 = 14;

fn args(url: &str, extra: &[&str]) -> Vec<String> {
    let base = [
        "run",
        "--base-url",
        url,
        "--api-key",
        "tml-demo",
        "--base-model",
        "Qwen/Qwen3-8B",
    ];
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn with_text(url: &str, extra: &[&str]) -> Vec<String> {
    let mut all = vec![
        "--tokenizer",
        DEFAULT_TOKENIZER,
        "--prompt",
        "Hello",
        "--timeout",
        "30",
    ];
    all.extend_from_slice(extra);
    args(url, &all)
}

/// The one-sample demo answer to "Hello" (one token), as plain output prints it.
fn hello_text() -> String {
    format!("{}\n", demo_text(1, 0, 0, 1))
}

#[test]
fn plain_output_is_the_decoded_demo_text() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let run = tinkex(
        &with_text(&server.url(), &[]),
        &scratch,
        Duration::from_secs(60),
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, hello_text().as_str()),
        "{}",
        run.stderr
    );
}

#[test]
fn json_output_has_the_text_tokens_and_stop_reason() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let run = tinkex(
        &with_text(&server.url(), &["--json"]),
        &scratch,
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let text = doc.to_string();
    assert!(text.contains("offline demo server"), "{text}");
    assert!(
        text.contains("151645"),
        "JSON keeps the final <|im_end|>: {text}"
    );
    assert!(text.contains("\"stop\""), "{text}");
}

#[test]
fn output_file_gets_the_bytes_and_stdout_stays_empty() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let out = scratch.path().join("out/answer.txt");
    let out_arg = out.to_string_lossy().into_owned();
    let run = tinkex(
        &with_text(&server.url(), &["--output", &out_arg]),
        &scratch,
        Duration::from_secs(60),
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), hello_text());
}

#[test]
fn tokens_only_prints_ids() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let prompt = scratch.file("prompt.json", "[9707]");
    let prompt = prompt.to_string_lossy().into_owned();
    let extra = [
        "--tokens-only",
        "--prompt-file",
        &prompt,
        "--max-tokens",
        "3",
        "--timeout",
        "30",
    ];
    let run = tinkex(
        &args(&server.url(), &extra),
        &scratch,
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ids: Vec<u32> = run
        .stdout
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{:?}", run.stdout);
}

/// One cell of the fault matrix.
#[derive(Clone, Copy, Debug)]
struct Case {
    endpoint: Endpoint,
    kind: FaultKind,
    times: Option<u32>,
}

/// What a case may end with: success, or one of these exit codes.
fn allowed(case: Case) -> (bool, &'static [i32]) {
    use FaultKind::*;
    let retrieve = case.endpoint == Endpoint::RetrieveFuture;
    if matches!(case.endpoint, Endpoint::Finish | Endpoint::Heartbeat) {
        return (true, &[]); // never fails a run
    }
    match (case.kind, case.times) {
        (Status(400 | 410), _) if !retrieve => (false, &[2]),
        (Status(_) | Drop, Some(_)) => (true, &[]),
        (Malformed, Some(_)) => (true, &[4]),
        (Hang | Stall | Never, Some(_)) => (true, &[5]),
        (Status(400), None) => (false, &[2, 4]),
        (Status(_) | Drop | Malformed, None) => (false, &[4, 5]),
        (Hang | Stall | Never, None) => (false, &[5]),
    }
}

fn cases() -> Vec<Case> {
    let statuses = [400, 402, 408, 410, 429, 500, 503].map(FaultKind::Status);
    let kinds: Vec<FaultKind> = statuses.into_iter().chain(FaultKind::NAMED).collect();
    let mut cases = Vec::new();
    for endpoint in Endpoint::ALL {
        for kind in &kinds {
            for times in [Some(1), None] {
                cases.push(Case {
                    endpoint,
                    kind: *kind,
                    times,
                });
            }
        }
    }
    cases
}

/// Runs one case; `Err` says what was wrong.
fn run_case(case: Case) -> Result<bool, String> {
    let heartbeat = case.endpoint == Endpoint::Heartbeat;
    let config = DemoConfig {
        faults: vec![FaultSpec::new(case.endpoint, case.kind, case.times)],
        jwt: case.endpoint == Endpoint::Auth,
        latency_ms: if heartbeat { HEARTBEAT_LATENCY_MS } else { 0 },
        poll_wait_ms: 200,
        ..DemoConfig::default()
    };
    let server = DemoServer::start(config)?;
    let scratch = Scratch::new();
    let prompt = scratch.file("prompt.json", "[9707, 11]");
    let out = scratch.path().join("out.txt");
    let deadline = if heartbeat {
        HEARTBEAT_DEADLINE
    } else {
        DEADLINE
    };
    let mut extra: Vec<String> = ["--tokens-only", "--max-tokens", "4", "--prompt-file"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    extra.extend([
        prompt.to_string_lossy().into_owned(),
        "--output".into(),
        out.to_string_lossy().into_owned(),
    ]);
    extra.extend(["--timeout".into(), deadline.to_string()]);
    let mut all = vec![
        "run".to_string(),
        "--base-url".into(),
        server.url(),
        "--api-key".into(),
        "tml-demo".into(),
    ];
    if case.endpoint == Endpoint::Samplers {
        all.extend([
            "--model-path".into(),
            "tinker://demo/sampler_weights/final".into(),
        ]);
    } else {
        all.extend(["--base-model".into(), "Qwen/Qwen3-8B".into()]);
    }
    all.extend(extra);
    let run = tinkex(&all, &scratch, Duration::from_secs(deadline + 10));
    let reached = server
        .request_log()
        .iter()
        .any(|r| endpoint_of(&r.path) == Some(case.endpoint));
    check(case, &run, deadline, out, &scratch).map(|()| reached)
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

fn check(
    case: Case,
    run: &Run,
    deadline: u64,
    out: PathBuf,
    scratch: &Scratch,
) -> Result<(), String> {
    let (ok_allowed, codes) = allowed(case);
    let limit = Duration::from_secs(deadline + 1);
    if run.elapsed > limit {
        return Err(format!(
            "took {:?} (deadline {deadline} s + 1 s)",
            run.elapsed
        ));
    }
    if run.code == 0 && ok_allowed {
        let written = std::fs::read_to_string(&out).unwrap_or_default();
        let ids = written
            .split_whitespace()
            .filter(|t| t.parse::<u32>().is_ok())
            .count();
        return if ids == 4 {
            Ok(())
        } else {
            Err(format!("exit 0 but output {written:?}"))
        };
    }
    if !codes.contains(&run.code) {
        return Err(format!(
            "exit {} (allowed: success {ok_allowed}, codes {codes:?}); stderr: {}",
            run.code, run.stderr
        ));
    }
    if !run.stderr.lines().any(|l| l.starts_with("tinkex: error: ")) {
        return Err(format!(
            "no `tinkex: error:` line in stderr: {}",
            run.stderr
        ));
    }
    let left: Vec<String> = scratch
        .listing()
        .into_iter()
        .filter(|n| n != "prompt.json")
        .collect();
    if !left.is_empty() {
        return Err(format!("files left behind after failure: {left:?}"));
    }
    Ok(())
}

#[test]
fn fault_matrix() {
    let cases = cases();
    let results = parallel(cases.clone(), 24, run_case);
    let mut failures = Vec::new();
    let mut unreached = 0;
    for (case, result) in cases.iter().zip(&results) {
        match result {
            Ok(reached) => unreached += usize::from(!reached),
            Err(e) => failures.push(format!(
                "{}={}{}: {e}",
                case.endpoint.name(),
                case.kind,
                case.times.map_or(String::new(), |n| format!("x{n}"))
            )),
        }
    }
    let passed = cases.len() - failures.len();
    println!(
        "fault matrix: {} cases, {passed} passed, {unreached} never reached their endpoint",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
