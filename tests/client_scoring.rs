//! Scoring and sampled top-k on the wire: exact `asample` bodies (the new fields only
//! when asked for, in the SDK's key order) and answers with or without the suffix honoured.

use mockito::ServerGuard;
use serde_json::Value;
use tinkex::client::{ModelInput, SampleExtras, SampleResponse, SamplingParams};

use crate::support::client::*;

/// Samples with `extras` against a server answering `result` (JSON); the asample body and result.
fn exchange(
    prompt: Vec<u32>,
    params: SamplingParams,
    extras: SampleExtras,
    result: &str,
) -> (String, SampleResponse) {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-s").create();
    retrieve(&mut server, &log, 200, result).create();
    let (_service, sampler) = connect(config(&server));
    let future = sampler
        .sample_with(ModelInput::from_tokens(prompt), 1, params, extras)
        .unwrap();
    let response = future.wait(None).unwrap();
    (log.to("/api/v1/asample")[0].body.clone(), response)
}

/// What the official SDK 0.38 sends (fixtures/sdk_requests), with the fields it sends at
/// their defaults left out and our sampling session id: what tinkex must send.
fn sdk_body_without_defaults(name: &str) -> String {
    let bytes = fixture(&format!("sdk_requests/{name}.json"));
    let mut body: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
    for (key, default) in [
        ("topk_sample_logprobs", Value::from(0)),
        ("prompt_alt_tokens_k", Value::from(0)),
        ("record_stability_info", Value::from(false)),
    ] {
        if body.get(key) == Some(&default) {
            body.shift_remove(key);
        }
    }
    body.insert("sampling_session_id".into(), "samp-1".into());
    serde_json::to_string(&body).unwrap()
}

const SCORED_SUFFIX: &str = r#"{"sequences":[{"tokens":[9],"logprobs":[-0.5],"stop_reason":"length"}],"prompt_logprobs":[null,null,null,-0.25,-1.5],"topk_prompt_logprobs":null,"type":"sample"}"#;
const SCORED_ALL: &str = r#"{"sequences":[{"tokens":[9],"logprobs":[-0.5],"stop_reason":"length"}],"prompt_logprobs":[null,-3.0,-2.0,-0.25,-1.5],"topk_prompt_logprobs":null,"type":"sample"}"#;

#[test]
fn a_scoring_request_is_the_sdks_compute_logprobs_body() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-s").create();
    retrieve(&mut server, &log, 200, SCORED_SUFFIX).create();
    let (_service, sampler) = connect(config(&server));
    let prompt = ModelInput::from_tokens(vec![1, 2, 3, 4, 5]);
    let response = sampler
        .compute_logprobs(prompt, Some(2))
        .unwrap()
        .wait(None)
        .unwrap();
    let body = &log.to("/api/v1/asample")[0].body;
    assert_eq!(body, &sdk_body_without_defaults("compute_logprobs"));
    assert_eq!(
        body,
        r#"{"num_samples":1,"prompt":{"chunks":[{"tokens":[1,2,3,4,5],"type":"encoded_text"}]},"sampling_params":{"max_tokens":1,"temperature":1.0,"top_k":-1,"top_p":1.0},"sampling_session_id":"samp-1","seq_id":0,"prompt_logprobs":true,"topk_prompt_logprobs":0,"prompt_logprobs_last_n":2,"type":"sample"}"#
    );
    assert_eq!(response.last_prompt_logprobs(2), Some(vec![-0.25, -1.5]));
    // Past the scored suffix there is nothing to read.
    assert_eq!(response.last_prompt_logprobs(3), None);
}

#[test]
fn a_server_that_ignores_last_n_scores_everything_and_the_suffix_is_the_same() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-s").create();
    retrieve(&mut server, &log, 200, SCORED_ALL).create();
    let (_service, sampler) = connect(config(&server));
    let prompt = ModelInput::from_tokens(vec![1, 2, 3, 4, 5]);
    let response = sampler
        .compute_logprobs(prompt, Some(2))
        .unwrap()
        .wait(None)
        .unwrap();
    assert_eq!(response.last_prompt_logprobs(2), Some(vec![-0.25, -1.5]));
    assert_eq!(
        response.last_prompt_logprobs(4),
        Some(vec![-3.0, -2.0, -0.25, -1.5])
    );
}

#[test]
fn today_bodies_do_not_change_and_topk_is_sent_only_when_asked() {
    let plain = r#"{"sequences":[{"tokens":[9],"logprobs":[-0.5],"stop_reason":"length"}],"type":"sample"}"#;
    let (body, response) = exchange(
        vec![1, 2],
        SamplingParams::default(),
        SampleExtras::default(),
        plain,
    );
    assert_eq!(
        body,
        r#"{"num_samples":1,"prompt":{"chunks":[{"tokens":[1,2],"type":"encoded_text"}]},"sampling_params":{"temperature":1.0,"top_k":-1,"top_p":1.0},"sampling_session_id":"samp-1","seq_id":0,"prompt_logprobs":false,"topk_prompt_logprobs":0,"type":"sample"}"#
    );
    assert_eq!(response.sequences[0].topk_logprobs, None);

    let with_topk = r#"{"sequences":[{"tokens":[9,10],"logprobs":[-0.5,-1.0],"topk_logprobs":[[[9,-0.5],[4,-2.0]],null],"stop_reason":"length"}],"type":"sample"}"#;
    let params = SamplingParams {
        max_tokens: Some(3),
        seed: Some(1),
        ..SamplingParams::default()
    };
    let extras = SampleExtras {
        topk_sample_logprobs: 3,
        ..SampleExtras::default()
    };
    let (body, response) = exchange(vec![1, 2, 3, 4, 5], params, extras, with_topk);
    assert_eq!(body, sdk_body_without_defaults("sample_topk"));
    assert_eq!(
        response.sequences[0].topk_logprobs,
        Some(vec![Some(vec![(9, -0.5), (4, -2.0)]), None])
    );
}

#[test]
fn the_plain_sdk_body_is_ours_with_its_defaults_added() {
    let (mut server, log) = ready();
    accept_then_result(&mut server, &log, "req-s");
    let (_service, sampler) = connect(config(&server));
    let params = SamplingParams {
        max_tokens: Some(4),
        seed: Some(7),
        stop: Some(tinkex::client::StopCondition::Strings(vec!["\n\n".into()])),
        temperature: 0.7,
        top_k: 40,
        top_p: 0.95,
    };
    let prompt = ModelInput::from_tokens(vec![1, 2, 3, 4, 5]);
    sampler
        .sample(prompt, 2, params)
        .unwrap()
        .wait(None)
        .unwrap();
    assert_eq!(
        log.to("/api/v1/asample")[0].body,
        sdk_body_without_defaults("sample")
    );
}

fn refused(server: &ServerGuard, prompt_len: u32, extras: SampleExtras) -> tinkex::Error {
    let (_service, sampler) = connect(config(server));
    let prompt = ModelInput::from_tokens((1..=prompt_len).collect());
    match sampler.sample_with(prompt, 1, SamplingParams::default(), extras) {
        Ok(_) => panic!("not refused"),
        Err(err) => err,
    }
}

#[test]
fn last_n_out_of_range_is_refused_before_any_request() {
    let (server, log) = ready();
    let last_n = |n| SampleExtras {
        prompt_logprobs: true,
        prompt_logprobs_last_n: Some(n),
        ..SampleExtras::default()
    };
    for (len, extras) in [(3, last_n(0)), (3, last_n(3)), (1, last_n(1))] {
        let err = refused(&server, len, extras);
        assert_eq!(err.exit_code(), 2, "{err}");
        assert!(err.to_string().contains("prompt_logprobs_last_n"), "{err}");
    }
    let without = SampleExtras {
        prompt_logprobs_last_n: Some(1),
        ..SampleExtras::default()
    };
    assert_eq!(refused(&server, 3, without).exit_code(), 2);
    assert!(log.to("/api/v1/asample").is_empty());
}
