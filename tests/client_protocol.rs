//! The client's requests byte for byte, its headers, and the session lifecycle.

use std::time::Duration;

use mockito::Server;
use tinkex::client::{
    ModelInput, SamplerSpec, SamplingParams, ServiceClient, StopCondition, StopReason,
};

use crate::support::client::*;
use crate::support::slow_api::wait_until;

fn example_params() -> SamplingParams {
    SamplingParams {
        max_tokens: Some(4),
        seed: Some(7),
        stop: Some(StopCondition::Strings(vec!["\n\n".to_string()])),
        temperature: 0.7,
        top_k: 40,
        top_p: 0.95,
    }
}

#[test]
fn bodies_and_order_match_the_protocol_byte_for_byte() {
    let (mut server, log) = ready();
    accept_then_result(&mut server, &log, "req-1");
    let (_service, sampler) = connect(config(&server));
    let prompt = ModelInput::from_tokens(vec![1, 2, 3]);
    let future = sampler.sample(prompt, 2, example_params()).unwrap();
    assert_eq!(future.request_id(), "req-1");
    let result = future.wait(None).unwrap();
    assert_eq!(result.sequences[0].tokens, vec![7, 8]);
    assert_eq!(result.sequences[0].stop_reason, StopReason::Length);

    assert_eq!(
        log.paths(),
        [
            "/api/v1/client/config",
            "/api/v1/create_session",
            "/api/v1/create_sampling_session",
            "/api/v1/asample",
            "/api/v1/retrieve_future"
        ]
    );
    let body = |path: &str| log.to(path)[0].body.clone();
    assert_eq!(body("/api/v1/client/config"), r#"{"sdk_version":"0.38.0"}"#);
    assert_eq!(
        body("/api/v1/create_session"),
        r#"{"tags":[],"user_metadata":{},"sdk_version":"0.38.0","type":"create_session"}"#
    );
    assert_eq!(
        body("/api/v1/create_sampling_session"),
        r#"{"session_id":"sess-1","sampling_session_seq_id":0,"base_model":"Qwen/Qwen3-8B","type":"create_sampling_session"}"#
    );
    assert_eq!(
        body("/api/v1/asample"),
        r#"{"num_samples":2,"prompt":{"chunks":[{"tokens":[1,2,3],"type":"encoded_text"}]},"sampling_params":{"max_tokens":4,"seed":7,"stop":["\n\n"],"temperature":0.7,"top_k":40,"top_p":0.95},"sampling_session_id":"samp-1","seq_id":0,"prompt_logprobs":false,"topk_prompt_logprobs":0,"type":"sample"}"#
    );
    assert_eq!(body("/api/v1/retrieve_future"), r#"{"request_id":"req-1"}"#);
}

#[test]
fn headers_follow_the_protocol() {
    let (mut server, log) = ready();
    accept_then_result(&mut server, &log, "req-1");
    let (_service, sampler) = connect(config(&server));
    let params = SamplingParams::default();
    let prompt = ModelInput::from_tokens(vec![5]);
    sampler
        .sample(prompt, 1, params)
        .unwrap()
        .wait(None)
        .unwrap();

    let all = log.all();
    let mut keys = Vec::new();
    for seen in &all {
        let h = &seen.headers;
        assert_eq!(h["x-api-key"], KEY, "{}", seen.path);
        assert_eq!(h["user-agent"], format!("tinkex/{}", tinkex::VERSION));
        assert_eq!(h["content-type"], "application/json");
        assert!(!h.contains_key("authorization"));
        let key = &h["x-idempotency-key"];
        assert_eq!(key.len(), 36);
        assert_eq!(&key[14..15], "4", "{key}");
        keys.push(key.clone());
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all.len(), "idempotency keys repeat");
    let asample = &log.to("/api/v1/asample")[0].headers;
    assert_eq!(asample["x-tinker-sampling-backpressure"], "1");
    assert_eq!(asample["accept"], "application/json");
    let poll = &log.to("/api/v1/retrieve_future")[0].headers;
    assert_eq!(poll["x-tinker-request-iteration"], "0");
    assert_eq!(poll["x-tinker-request-type"], "Sample");
    assert_eq!(poll["accept"], "application/x-protobuf, application/json");
}

#[test]
fn tags_project_and_model_path_shape_the_bodies() {
    let (mut server, log) = ready();
    let mut config = config(&server);
    // A trailing slash on the base must not produce `//` (the mocks would not match).
    config.base_url.push('/');
    config.tags = vec!["a".into(), "b".into()];
    config.project_id = Some("p1".into());
    let service = ServiceClient::new(config).unwrap();
    let spec = SamplerSpec::model_path("tinker://run-1/sampler_weights/final");
    let sampler = service.create_sampling_client(spec).unwrap();
    assert_eq!(sampler.sampling_session_id(), "samp-1");
    assert_eq!(
        log.to("/api/v1/create_session")[0].body,
        r#"{"tags":["a","b"],"user_metadata":{},"sdk_version":"0.38.0","project_id":"p1","type":"create_session"}"#
    );
    assert_eq!(
        log.to("/api/v1/create_sampling_session")[0].body,
        r#"{"session_id":"sess-1","sampling_session_seq_id":0,"model_path":"tinker://run-1/sampler_weights/final","type":"create_sampling_session"}"#
    );
    answer(
        &mut server,
        &log,
        "GET",
        "/api/v1/samplers/samp-1",
        200,
        "application/json",
        r#"{"sampler_id":"samp-1","base_model":"Qwen/Qwen3-8B","model_path":null}"#,
    )
    .create();
    assert_eq!(sampler.base_model().unwrap(), "Qwen/Qwen3-8B");
    // The second sampling session of a service gets the next seq id.
    service
        .create_sampling_client(SamplerSpec::base_model("m"))
        .unwrap();
    assert!(log.to("/api/v1/create_sampling_session")[1]
        .body
        .contains(r#""sampling_session_seq_id":1"#));
}

#[test]
fn bad_specs_fail_before_any_request() {
    let (server, log) = ready();
    let service = ServiceClient::new(config(&server)).unwrap();
    let before = log.all().len();
    let err = service
        .create_sampling_client(SamplerSpec::model_path("s3://bucket/x"))
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("tinker://"), "{err}");
    let err = service
        .create_sampling_client(SamplerSpec::default())
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(log.all().len(), before);
}

#[test]
fn a_bad_key_fails_before_any_request() {
    let (server, log) = ready();
    let mut config = config(&server);
    config.api_key = "sk-wrong-secret".into();
    let err = ServiceClient::new(config).err().unwrap();
    assert_eq!(err.exit_code(), 3);
    assert!(!err.to_string().contains("wrong-secret"));
    assert!(log.all().is_empty());
}

#[test]
fn skyrl_answers_without_sequence_ids_and_short_prompt_logprobs() {
    let (mut server, log) = ready();
    let skyrl = r#"{"future_id":"f-1","status":"pending","request_id":"req-9"}"#;
    post(&mut server, &log, "/api/v1/asample", 200, skyrl).create();
    let result = r#"{"sequences":[{"tokens":[4],"logprobs":[-0.1],"stop_reason":"stop"}],"prompt_logprobs":[-0.5,-1.5],"topk_prompt_logprobs":null,"type":"sample"}"#;
    retrieve(&mut server, &log, 200, result).create();
    let (_service, sampler) = connect(config(&server));
    let prompt = ModelInput::from_tokens(vec![1, 2, 3]);
    let future = sampler
        .sample_with_prompt_logprobs(prompt, 1, SamplingParams::default(), true, 0)
        .unwrap();
    let response = future.wait(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        response.prompt_logprobs,
        Some(vec![None, Some(-0.5), Some(-1.5)])
    );
    assert_eq!(response.sequences[0].stop_reason, StopReason::Stop);
    assert_eq!(
        log.to("/api/v1/retrieve_future")[0].body,
        r#"{"request_id":"req-9"}"#
    );
    assert!(log.to("/api/v1/asample")[0]
        .body
        .ends_with(r#""prompt_logprobs":true,"topk_prompt_logprobs":0,"type":"sample"}"#));
}

#[test]
fn heartbeat_beats_during_a_long_poll_and_stops_at_finish() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-1").create();
    let held = log.clone();
    server
        .mock("POST", "/api/v1/retrieve_future")
        .with_header("content-type", "application/json")
        .with_chunked_body(move |w| {
            // A long poll: answered once two heartbeats arrived while it was open.
            let before = held.to(HEARTBEAT).len();
            wait_until(Duration::from_secs(10), || {
                held.to(HEARTBEAT).len() >= before + 2
            });
            w.write_all(RESULT_JSON.as_bytes())
        })
        .create();
    finish_ok(&mut server, &log);
    let config = config(&server).with_heartbeat_interval(BEAT);
    let (service, sampler) = connect(config);
    let prompt = ModelInput::from_tokens(vec![1]);
    let future = sampler
        .sample(prompt, 1, SamplingParams::default())
        .unwrap();
    let beats_before = log.to("/api/v1/session_heartbeat").len();
    future.wait(None).unwrap();
    let beats = log.to("/api/v1/session_heartbeat");
    assert!(
        beats.len() >= beats_before + 2,
        "{} heartbeats",
        beats.len()
    );
    assert_eq!(
        beats[0].body,
        r#"{"session_id":"sess-1","type":"session_heartbeat"}"#
    );
    service.finish(tinkex::client::FinishReason::Success);
    assert_eq!(
        log.to("/api/v1/sessions/sess-1/finish")[0].body,
        r#"{"reason":{"type":"success"},"detail":null}"#
    );
    let after_finish = log.to(HEARTBEAT).len();
    assert!(!beats_again(&log, after_finish), "heartbeats after finish");
}

/// How often the heartbeat tests beat.
const BEAT: Duration = Duration::from_millis(50);

const HEARTBEAT: &str = "/api/v1/session_heartbeat";

/// Whether more than one heartbeat (one may have been in flight at the stop) arrives after
/// `seen` within ten intervals. A stop can only be watched for a while; this fails as soon as
/// a stopped heartbeat beats again, and passes after 10 intervals of silence.
fn beats_again(log: &Log, seen: usize) -> bool {
    wait_until(BEAT * 10, || log.to(HEARTBEAT).len() > seen + 1)
}

#[test]
fn heartbeat_stops_on_410() {
    let mut server = Server::new();
    let log = Log::default();
    post(&mut server, &log, "/api/v1/session_heartbeat", 410, "{}").create();
    setup(&mut server, &log);
    let config = config(&server).with_heartbeat_interval(BEAT);
    let _service = ServiceClient::new(config).unwrap();
    let refused = wait_until(Duration::from_secs(10), || !log.to(HEARTBEAT).is_empty());
    assert!(refused, "no heartbeat was sent");
    assert!(!beats_again(&log, 0), "heartbeats after a 410");
    assert_eq!(log.to(HEARTBEAT).len(), 1);
}

#[test]
fn finish_is_skipped_when_less_than_a_second_is_left() {
    let (mut server, log) = ready();
    finish_ok(&mut server, &log);
    let mut config = config(&server);
    config.deadline = tinkex::Deadline::after(Duration::from_millis(900));
    let service = ServiceClient::new(config).unwrap();
    service.finish(tinkex::client::FinishReason::Errored);
    assert!(log.to("/api/v1/sessions/sess-1/finish").is_empty());
}
