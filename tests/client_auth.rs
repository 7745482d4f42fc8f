//! The JWT path (exchange, proactive refresh, replay after 401) and credential-free logs.

use std::io::{Read, Seek};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use mockito::{Mock, Server};
use tinkex::client::{ModelInput, SamplingParams, ServiceClient};

use crate::support::client::*;
use crate::support::slow_api::wait_until;

/// Every log record of this process, as text: the tests that read it run alone in a child
/// process ([`alone_in_a_process`]), so no concurrent test's records mix in.
static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        // What the CLI must do too: ureq_proto hex-dumps raw requests at trace;
        // mockito is the test server, not the client.
        let target = record.target();
        let unsafe_trace = tinkex::client::UNSAFE_TRACE_TARGETS
            .iter()
            .any(|t| target.starts_with(t));
        if (unsafe_trace && record.level() == log::Level::Trace) || target.starts_with("mockito") {
            return;
        }
        let line = format!("{} {} {}", record.level(), target, record.args());
        CAPTURED.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

/// Set in the child process that runs one log-capturing test alone.
const ALONE: &str = "TINKEX_TEST_ALONE";

/// Runs `body` in a fresh process of this test binary running only `test`, so the
/// process-wide logger it installs captures this test's records only. The child is waited
/// for at most a minute, and must report that it ran the one test.
fn alone_in_a_process(test: &str, body: impl FnOnce()) {
    if std::env::var_os(ALONE).is_some() {
        return body();
    }
    let mut output = tempfile::tempfile().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, "1")
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output.try_clone().unwrap())
        .spawn()
        .unwrap();
    let ended = wait_until(Duration::from_secs(60), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let mut text = String::new();
    output.rewind().unwrap();
    output.read_to_string(&mut text).unwrap();
    assert!(ended, "{test} did not end within a minute:\n{text}");
    assert!(
        status.success(),
        "{test} failed in its own process:\n{text}"
    );
    assert!(
        text.contains("test result: ok. 1 passed"),
        "{test} did not run:\n{text}"
    );
}

/// Installs the capturing logger at trace level (once per process).
fn capture_logs() {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let ok = *INSTALLED.get_or_init(|| log::set_logger(&Capture).is_ok());
    assert!(ok, "another logger was installed first");
    log::set_max_level(log::LevelFilter::Trace);
}

fn captured() -> String {
    CAPTURED.lock().unwrap().join("\n")
}

/// An `asample` mock refusing `token` as an invalid token (the caller creates it).
fn refuse_as_invalid(server: &mut Server, token: &str) -> Mock {
    server
        .mock("POST", "/api/v1/asample")
        .match_header("x-api-key", token)
        .with_status(401)
        .with_header("www-authenticate", r#"Bearer error="invalid_token""#)
}

fn jwt_setup(server: &mut Server, log: &Log, tokens: &[String]) {
    post(
        server,
        log,
        "/api/v1/client/config",
        200,
        r#"{"pjwt_auth_enabled":true}"#,
    )
    .create();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    exchanges(server, log, &tokens);
    setup(server, log);
}

#[test]
fn the_key_is_exchanged_for_a_jwt_used_from_then_on() {
    let mut server = Server::new();
    let log = Log::default();
    let token = jwt(now() + 3600, "one");
    jwt_setup(&mut server, &log, std::slice::from_ref(&token));
    let (_service, _sampler) = connect(config(&server));
    let key_of = |path: &str| log.to(path)[0].headers["x-api-key"].clone();
    assert_eq!(key_of("/api/v1/client/config"), KEY);
    assert_eq!(key_of("/api/v1/auth/token"), KEY);
    assert_eq!(log.to("/api/v1/auth/token")[0].body, "{}");
    assert_eq!(key_of("/api/v1/create_session"), token);
    assert_eq!(key_of("/api/v1/create_sampling_session"), token);
}

#[test]
fn a_401_invalid_token_refreshes_and_replays_once() {
    let mut server = Server::new();
    let log = Log::default();
    let (first, second) = (jwt(now() + 3600, "one"), jwt(now() + 3600, "two"));
    jwt_setup(&mut server, &log, &[first.clone(), second.clone()]);
    refuse_as_invalid(&mut server, &first).create();
    accept(&mut server, &log, "req-1")
        .match_header("x-api-key", second.as_str())
        .create();
    retrieve_result(&mut server, &log);
    let (_service, sampler) = connect(config(&server));
    let prompt = ModelInput::from_tokens(vec![1]);
    sampler
        .sample(prompt, 1, SamplingParams::default())
        .unwrap()
        .wait(None)
        .unwrap();
    assert_eq!(log.to("/api/v1/auth/token").len(), 2);
    let polls = log.to("/api/v1/retrieve_future");
    assert_eq!(polls[0].headers["x-api-key"], second);
}

#[test]
fn a_plain_401_is_an_auth_error_without_refresh() {
    let mut server = Server::new();
    let log = Log::default();
    jwt_setup(&mut server, &log, &[jwt(now() + 3600, "one")]);
    post(
        &mut server,
        &log,
        "/api/v1/asample",
        401,
        r#"{"detail":"key revoked"}"#,
    )
    .create();
    let (_service, sampler) = connect(config(&server));
    let err = sampler
        .sample(
            ModelInput::from_tokens(vec![1]),
            1,
            SamplingParams::default(),
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("\"key revoked\""), "{err}");
    assert_eq!(log.to("/api/v1/auth/token").len(), 1);
    assert_eq!(log.to("/api/v1/asample").len(), 1);
}

#[test]
fn a_jwt_close_to_expiry_is_refreshed_before_use() {
    let mut server = Server::new();
    let log = Log::default();
    let (short, long) = (jwt(now() + 30, "short"), jwt(now() + 3600, "long"));
    jwt_setup(&mut server, &log, &[short, long.clone()]);
    let service = ServiceClient::new(config(&server)).unwrap();
    assert_eq!(service.session_id(), "sess-1");
    assert_eq!(log.to("/api/v1/auth/token").len(), 2);
    assert_eq!(
        log.to("/api/v1/create_session")[0].headers["x-api-key"],
        long
    );
}

#[test]
fn a_key_that_is_a_jwt_is_used_as_it_is() {
    let mut server = Server::new();
    let log = Log::default();
    jwt_setup(&mut server, &log, &[]);
    let token = jwt(now() + 3600, "given");
    let mut config = config(&server);
    config.api_key = token.clone();
    ServiceClient::new(config).unwrap();
    assert!(log.to("/api/v1/auth/token").is_empty());
    assert_eq!(
        log.to("/api/v1/create_session")[0].headers["x-api-key"],
        token
    );
    let mut expired = crate::support::client::config(&server);
    expired.api_key = jwt(now() - 10, "old");
    let err = ServiceClient::new(expired).unwrap_err();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("expired"), "{err}");
}

#[test]
fn trace_logs_never_contain_the_key_or_a_jwt() {
    alone_in_a_process(
        "client_auth::trace_logs_never_contain_the_key_or_a_jwt",
        trace_logs_are_clean,
    );
}

fn trace_logs_are_clean() {
    capture_logs();
    let mut server = Server::new();
    let log = Log::default();
    let (first, second) = (jwt(now() + 3600, "logone"), jwt(now() + 3600, "logtwo"));
    jwt_setup(&mut server, &log, &[first.clone(), second.clone()]);
    refuse_as_invalid(&mut server, &first)
        .with_body(format!(r#"{{"detail":"token {first} expired"}}"#))
        .create();
    accept(&mut server, &log, "req-log")
        .match_header("x-api-key", second.as_str())
        .create();
    let try_again = r#"{"type":"try_again","request_id":"req-log","queue_state":"paused_capacity","queue_state_reason":"busy"}"#;
    retrieve(&mut server, &log, 200, try_again)
        .expect(1)
        .create();
    retrieve_result(&mut server, &log);
    let config = config(&server).with_heartbeat_interval(Duration::from_millis(30));
    let (service, sampler) = connect(config);
    let prompt = ModelInput::from_tokens(vec![1]);
    sampler
        .sample(prompt, 1, SamplingParams::default())
        .unwrap()
        .wait(None)
        .unwrap();
    // A heartbeat's records are checked too.
    let beat = wait_until(Duration::from_secs(10), || {
        !log.to("/api/v1/session_heartbeat").is_empty()
    });
    assert!(beat, "no heartbeat was sent");
    service.finish(tinkex::client::FinishReason::Success);
    let text = captured();
    assert!(
        text.contains("POST /api/v1/auth/token -> 200"),
        "request lines missing"
    );
    assert!(text.contains("req-log"), "request id missing");
    assert!(
        text.contains("tinkex::status queue paused"),
        "queue state missing"
    );
    assert!(text.contains("TRACE"), "trace records missing");
    // A hex dump would split the key across lines: look for any 8-character piece.
    for piece in KEY.as_bytes().windows(8) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(
            !text.contains(piece),
            "a piece of the key reached the log: {piece}"
        );
    }
    for secret in [KEY, first.as_str(), second.as_str()] {
        let leaks: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(leaks.is_empty(), "a credential reached the log: {leaks:?}");
    }
}

#[test]
fn a_failing_heartbeat_warns_after_the_quiet_period() {
    alone_in_a_process(
        "client_auth::a_failing_heartbeat_warns_after_the_quiet_period",
        failing_heartbeat_warns,
    );
}

fn failing_heartbeat_warns() {
    capture_logs();
    let (mut server, log) = ready();
    // Created last, so it wins over setup's healthy heartbeat mock.
    post(&mut server, &log, "/api/v1/session_heartbeat", 503, "{}")
        .expect_at_least(1)
        .create();
    let config = config(&server)
        .with_heartbeat_interval(Duration::from_millis(40))
        .with_heartbeat_warning_after(Duration::from_millis(150));
    let service = ServiceClient::new(config).unwrap();
    let warning = "WARN tinkex::client::heartbeat no successful session heartbeat";
    let warned = wait_until(Duration::from_secs(10), || captured().contains(warning));
    drop(service);
    assert!(warned, "{}", captured());
    // Warned after 150 ms of 40 ms beats that all failed, not after the first failure.
    assert!(log.to("/api/v1/session_heartbeat").len() >= 3);
}
