//! Retry-table rows of setup calls and `asample`: outcome, request count and order, delays.

use mockito::Server;
use tinkex::client::{Config, ModelInput, SamplingParams, ServiceClient};

use crate::support::client::*;

#[test]
fn setup_calls_retry_408_409_429_5xx_with_jittered_backoff() {
    let mut server = Server::new();
    let log = Log::default();
    for status in [408, 409, 429, 500, 503] {
        post(&mut server, &log, "/api/v1/client/config", status, "{}")
            .expect(1)
            .create();
    }
    setup(&mut server, &log);
    let (config, delays) = recording_config(&server);
    let service = ServiceClient::new(config).unwrap();
    assert_eq!(service.session_id(), "sess-1");
    assert_eq!(log.to("/api/v1/client/config").len(), 6);
    let got = secs(&delays);
    assert_eq!(got.len(), 5);
    for (n, d) in got.iter().enumerate() {
        let base = 0.5 * 2f64.powi(n as i32);
        assert!(
            *d >= base * 0.75 - 1e-6 && *d <= base * 1.25 + 1e-6,
            "{n}: {d}"
        );
    }
}

#[test]
fn setup_calls_honour_retry_after() {
    let mut server = Server::new();
    let log = Log::default();
    server
        .mock("POST", "/api/v1/create_session")
        .with_status(503)
        .with_header("retry-after", "7")
        .expect(1)
        .create();
    setup(&mut server, &log);
    let (config, delays) = recording_config(&server);
    ServiceClient::new(config).unwrap();
    assert_eq!(secs(&delays), [7.0]);
}

#[test]
fn setup_calls_give_up_after_ten_retries_quoting_the_server() {
    let mut server = Server::new();
    let log = Log::default();
    post(
        &mut server,
        &log,
        "/api/v1/client/config",
        503,
        r#"{"detail":"overloaded"}"#,
    )
    .create();
    let (config, delays) = recording_config(&server);
    let err = ServiceClient::new(config).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("\"overloaded\""), "{err}");
    assert_eq!(log.to("/api/v1/client/config").len(), 11);
    let got = secs(&delays);
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|d| *d <= 10.0));
}

#[test]
fn setup_connection_errors_are_retried_then_a_server_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (policy, delays) = recorder();
    let mut config = Config::new(KEY, url);
    config.retry = policy;
    let err = ServiceClient::new(config).unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert_eq!(secs(&delays).len(), 10);
}

#[test]
fn fatal_statuses_are_not_retried() {
    for (status, code) in [(401, 3), (403, 3), (404, 2), (422, 2), (418, 2)] {
        let mut server = Server::new();
        let log = Log::default();
        post(
            &mut server,
            &log,
            "/api/v1/create_session",
            status,
            r#"{"detail":"nope"}"#,
        )
        .create();
        setup(&mut server, &log);
        let err = ServiceClient::new(config(&server)).unwrap_err();
        assert_eq!(err.exit_code(), code, "{status}: {err}");
        assert!(err.to_string().contains("\"nope\""), "{err}");
        assert_eq!(log.to("/api/v1/create_session").len(), 1);
    }
}

#[test]
fn asample_429_resends_the_same_seq_id_after_one_second() {
    let (mut server, log) = ready();
    post(&mut server, &log, "/api/v1/asample", 429, "{}")
        .expect(2)
        .create();
    accept_then_result(&mut server, &log, "req-1");
    let (config, delays) = recording_config(&server);
    sample(config).unwrap();
    let seq = asample_seq_ids(&log);
    assert_eq!(seq, [0, 0, 0]);
    assert_eq!(secs(&delays), [1.0, 1.0]);
}

#[test]
fn asample_429_waits_five_seconds_for_big_prompts() {
    let (mut server, log) = ready();
    post(&mut server, &log, "/api/v1/asample", 429, "{}")
        .expect(1)
        .create();
    accept_then_result(&mut server, &log, "req-1");
    let (config, delays) = recording_config(&server);
    let (_service, sampler) = connect(config);
    let prompt = ModelInput::from_tokens(vec![123_456; 30_000]);
    sampler
        .sample(prompt, 1, SamplingParams::default())
        .unwrap()
        .wait(None)
        .unwrap();
    assert_eq!(secs(&delays), [5.0]);
}

#[test]
fn asample_5xx_and_408_409_back_off_1_2_4_with_the_same_seq_id() {
    let (mut server, log) = ready();
    for status in [500, 408, 409] {
        post(&mut server, &log, "/api/v1/asample", status, "{}")
            .expect(1)
            .create();
    }
    accept_then_result(&mut server, &log, "req-1");
    let (config, delays) = recording_config(&server);
    sample(config).unwrap();
    let seq = asample_seq_ids(&log);
    assert_eq!(seq, [0, 0, 0, 0]);
    assert_eq!(secs(&delays), [1.0, 2.0, 4.0]);
}

#[test]
fn asample_gives_up_after_five_minutes_of_5xx() {
    let (mut server, log) = ready();
    post(
        &mut server,
        &log,
        "/api/v1/asample",
        502,
        r#"{"detail":"bad gateway"}"#,
    )
    .create();
    let (config, delays) = recording_config(&server);
    let (_service, sampler) = connect(config);
    let err = sampler
        .sample(
            ModelInput::from_tokens(vec![1]),
            1,
            SamplingParams::default(),
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("\"bad gateway\""), "{err}");
    // 1+2+4+8+16 then 30 s steps: the 15th attempt starts past 300 s.
    assert_eq!(log.to("/api/v1/asample").len(), 15);
    let got = secs(&delays);
    assert_eq!(&got[..6], [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]);
}

#[test]
fn billing_402_gives_up_after_an_hour() {
    let mut server = Server::new();
    let log = Log::default();
    let body = r#"{"detail":"payment required"}"#;
    post(&mut server, &log, "/api/v1/client/config", 402, body).create();
    let (config, delays) = recording_config(&server);
    let err = ServiceClient::new(config).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("\"payment required\""), "{err}");
    // One attempt every 5 s of virtual time, for 3600 s.
    assert_eq!(log.to("/api/v1/client/config").len(), 721);
    assert_eq!(secs(&delays).len(), 720);
}
