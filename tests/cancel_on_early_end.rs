//! Issue 23 finding 16 on the built binary: against a server that enables
//! `sample_cancel_enabled`, a run ended by SIGTERM or a batch line that times out (with the
//! batch's grace left) cancels its pending request and finishes the session with the reason.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::demo::{DemoConfig, DemoServer, RecordedRequest};
use crate::support::run::clean_command;
use crate::support::slow_api::{signal, wait_until};
use crate::support::KEY;

/// A demo server that allows cancelling and never finishes a sample within a test's time.
fn slow_cancelling_server() -> DemoServer {
    DemoServer::start(DemoConfig {
        sample_cancel: true,
        latency_ms: 600_000,
        // Quick to load on a busy machine (Qwen3's can take seconds at the first asample).
        tokenizer: crate::support::fixture("small/tokenizer.json"),
        // Short long-polls, so a poll completes (and is logged) well inside a line's --timeout
        // even on a loaded machine.
        poll_wait_ms: 50,
        ..DemoConfig::default()
    })
    .expect("demo server starts")
}

fn bodies_to(server: &DemoServer, path_end: &str) -> Vec<Value> {
    server
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with(path_end))
        .filter_map(RecordedRequest::json)
        .collect()
}

/// The request id the client polls for (the one pending on the server).
fn polled_id(server: &DemoServer) -> Option<String> {
    bodies_to(server, "/retrieve_future")
        .first()
        .and_then(|b| b["request_id"].as_str().map(String::from))
}

/// Waits (bounded) for the child to exit; its exit code.
fn exit_code(child: &mut Child, limit: Duration) -> Option<i32> {
    let mut code = None;
    let done = wait_until(limit, || match child.try_wait() {
        Ok(Some(status)) => {
            code = status.code();
            true
        }
        _ => false,
    });
    if !done {
        let _ = child.kill();
        let _ = child.wait();
    }
    code
}

fn assert_cancelled_and_finished(server: &DemoServer, rid: &str, reason: &str) {
    // The server logs a request once it has answered it, which on a loaded machine may come
    // a moment after the client gave up waiting and exited: wait (bounded) for both.
    wait_until(Duration::from_secs(10), || {
        !bodies_to(server, "/api/v1/cancel_future").is_empty()
            && !bodies_to(server, "/finish").is_empty()
    });
    let cancels = bodies_to(server, "/api/v1/cancel_future");
    assert_eq!(
        cancels,
        vec![json!({ "request_id": rid })],
        "cancel_future bodies"
    );
    let finishes = bodies_to(server, "/finish");
    assert_eq!(finishes.len(), 1, "{finishes:?}");
    assert_eq!(finishes[0]["reason"], json!({ "type": reason }));
    // The cancel comes before the finish.
    let log = server.request_log();
    let at = |end: &str| log.iter().position(|r| r.path.ends_with(end)).unwrap();
    assert!(at("/cancel_future") < at("/finish"));
}

#[test]
fn sigterm_cancels_the_pending_request_and_finishes_as_interrupted() {
    let server = slow_cancelling_server();
    let home = tempfile::tempdir().unwrap();
    let prompt = home.path().join("prompt.json");
    std::fs::write(&prompt, "[1, 2]").unwrap();
    let prompt = prompt.display().to_string();
    let url = server.url();
    let args = [
        "run",
        "--base-url",
        &url,
        "--api-key",
        KEY,
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--prompt-file",
        &prompt,
    ];
    let mut child = clean_command(&args, home.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || polled_id(&server).is_some()),
        "the run never polled"
    );
    signal(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child, Duration::from_secs(30)), Some(143));
    let rid = polled_id(&server).unwrap();
    assert_cancelled_and_finished(&server, &rid, "interrupted");
}

#[test]
fn a_batch_line_that_times_out_with_grace_left_is_cancelled_and_finishes_as_errored() {
    let server = slow_cancelling_server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"tokens\": [1, 2]}\n").unwrap();
    let output = dir.path().join("out.jsonl");
    let (input, output) = (input.display().to_string(), output.display().to_string());
    let url = server.url();
    // --timeout bounds the line; the batch itself has no deadline, so grace is left.
    let args = [
        "run",
        "--base-url",
        &url,
        "--api-key",
        KEY,
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--input",
        &input,
        "--output",
        &output,
        "--timeout",
        "3",
    ];
    let log = dir.path().join("stderr");
    let mut child = clean_command(&args, dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let code = exit_code(&mut child, Duration::from_secs(60));
    assert!(matches!(code, Some(c) if c != 0), "{code:?}");
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let rid = polled_id(&server).unwrap_or_else(|| {
        let paths: Vec<String> = server
            .request_log()
            .iter()
            .map(|r| r.path.clone())
            .collect();
        panic!("the line never polled: {stderr} {paths:?}")
    });
    assert_cancelled_and_finished(&server, &rid, "errored");
}
