//! The JWT path (exchange, proactive refresh, replay after 401) and credential-free logs.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use mockito::{Mock, Server};
use tinkex::client::{ModelInput, SamplingParams, ServiceClient};

use crate::support::client::*;

/// Every log record of the test binary, as text.
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

/// Installs the capturing logger at trace level (once per test binary).
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
    std::thread::sleep(Duration::from_millis(100));
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
    std::thread::sleep(Duration::from_millis(450));
    drop(service);
    let text = captured();
    assert!(
        text.contains("WARN tinkex::client::heartbeat no successful session heartbeat"),
        "{text}"
    );
    assert!(log.to("/api/v1/session_heartbeat").len() >= 4);
}
