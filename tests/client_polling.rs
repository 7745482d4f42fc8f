//! Retry-table rows of `retrieve_future` and 402: outcome, request count and order, delays.

use mockito::Server;

use crate::support::client::*;

#[test]
fn retrieve_try_again_408_and_5xx_poll_again_at_once() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-1").create();
    let try_again = r#"{"type":"try_again","request_id":"req-1","queue_state":"active","queue_state_reason":null}"#;
    retrieve(&mut server, &log, 200, try_again)
        .expect(1)
        .create();
    retrieve(&mut server, &log, 408, "{}").expect(1).create();
    retrieve_result(&mut server, &log);
    let (config, delays) = recording_config(&server);
    sample(config).unwrap();
    let polls = log.to("/api/v1/retrieve_future");
    let iterations: Vec<&str> = polls
        .iter()
        .map(|s| s.headers["x-tinker-request-iteration"].as_str())
        .collect();
    assert_eq!(iterations, ["0", "1", "2"]);
    assert!(secs(&delays).is_empty());
}

#[test]
fn fast_failing_polls_are_throttled_after_three() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-1").create();
    retrieve(&mut server, &log, 503, "{}").expect(5).create();
    retrieve_result(&mut server, &log);
    let (config, delays) = recording_config(&server);
    sample(config).unwrap();
    assert_eq!(log.to("/api/v1/retrieve_future").len(), 6);
    assert_eq!(secs(&delays), [0.5, 0.5, 0.5]);
}

#[test]
fn retrieve_429_backs_off_exponentially() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-1").create();
    retrieve(&mut server, &log, 429, "{}").expect(3).create();
    retrieve_result(&mut server, &log);
    let (config, delays) = recording_config(&server);
    sample(config).unwrap();
    assert_eq!(secs(&delays), [1.0, 2.0, 4.0]);
}

#[test]
fn retrieve_400_is_repolled_three_times_then_quoted() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-4").create();
    let detail = r#"{"detail":"topk_prompt_logprobs is not supported by the JAX backend"}"#;
    retrieve(&mut server, &log, 400, detail).create();
    let err = sample(config(&server)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    assert!(
        text.contains("\"topk_prompt_logprobs is not supported by the JAX backend\""),
        "{text}"
    );
    assert!(text.contains("req-4"), "{text}");
    assert_eq!(log.to("/api/v1/retrieve_future").len(), 4);
}

#[test]
fn retrieve_400_three_times_then_success() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-1").create();
    retrieve(&mut server, &log, 400, "").expect(3).create();
    retrieve_result(&mut server, &log);
    sample(config(&server)).unwrap();
    assert_eq!(log.to("/api/v1/retrieve_future").len(), 4);
}

#[test]
fn retrieve_410_resubmits_with_the_next_seq_id() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-1").expect(1).create();
    accept(&mut server, &log, "req-2").create();
    retrieve(&mut server, &log, 410, "{}").expect(1).create();
    retrieve_result(&mut server, &log);
    let (config, delays) = recording_config(&server);
    sample(config).unwrap();
    let tail: Vec<String> = log.paths().into_iter().skip(3).collect();
    assert_eq!(
        tail,
        [
            "/api/v1/asample",
            "/api/v1/retrieve_future",
            "/api/v1/asample",
            "/api/v1/retrieve_future"
        ]
    );
    let seq = asample_seq_ids(&log);
    assert_eq!(seq, [0, 1]);
    let polls = log.to("/api/v1/retrieve_future");
    assert_eq!(polls[1].body, r#"{"request_id":"req-2"}"#);
    assert_eq!(polls[1].headers["x-tinker-request-iteration"], "0");
    assert_eq!(secs(&delays), [0.5]);
}

#[test]
fn billing_402_retries_every_five_seconds() {
    let mut server = Server::new();
    let log = Log::default();
    post(&mut server, &log, "/api/v1/create_session", 402, "{}")
        .expect(2)
        .create();
    setup(&mut server, &log);
    post(&mut server, &log, "/api/v1/asample", 402, "{}")
        .expect(1)
        .create();
    accept(&mut server, &log, "req-1").create();
    retrieve(&mut server, &log, 402, "{}").expect(1).create();
    retrieve_result(&mut server, &log);
    let (config, delays) = recording_config(&server);
    sample(config).unwrap();
    assert_eq!(secs(&delays), [5.0, 5.0, 5.0, 5.0]);
}

#[test]
fn fatal_retrieve_statuses_end_the_future() {
    for (status, code) in [(401, 3), (403, 3), (404, 2), (422, 2)] {
        let (mut server, log) = ready();
        accept(&mut server, &log, "req-1").create();
        retrieve(&mut server, &log, status, r#"{"message":"no"}"#).create();
        let err = sample(config(&server)).unwrap_err();
        assert_eq!(err.exit_code(), code, "{status}: {err}");
        assert!(err.to_string().contains("\"no\""), "{err}");
        assert_eq!(log.to("/api/v1/retrieve_future").len(), 1);
    }
}

#[test]
fn error_answers_in_a_200_are_fatal_with_their_category() {
    for (category, code) in [("user", 2), ("server", 4), ("unknown", 4)] {
        let (mut server, log) = ready();
        accept(&mut server, &log, "req-7").create();
        let body = format!(r#"{{"error":"it broke","category":"{category}"}}"#);
        retrieve(&mut server, &log, 200, &body).create();
        let err = sample(config(&server)).unwrap_err();
        assert_eq!(err.exit_code(), code, "{category}: {err}");
        assert!(err.to_string().contains("\"it broke\""), "{err}");
        assert!(err.to_string().contains("req-7"), "{err}");
        assert_eq!(log.to("/api/v1/retrieve_future").len(), 1);
    }
}
