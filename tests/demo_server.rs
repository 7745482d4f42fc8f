//! The demo server's happy path, its demo model, and its two result encodings.

use std::fs;
use std::path::Path;

use prost::Message;
use serde_json::{json, Value};

use crate::demo::model::{self, IM_END};
use crate::demo::proto::{self, SampleResponsePb, SampleResult, Sequence, StopReason};
use crate::demo::{DemoConfig, DemoServer, DEFAULT_TOKENIZER};
use crate::support::demo_api::{asample_body, params, Api};

fn decode(tokens: &[u32]) -> String {
    let tok = model::load_tokenizer(Path::new(DEFAULT_TOKENIZER)).unwrap();
    tok.decode(tokens, false).unwrap()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn happy_path_through_every_endpoint() {
    let api = Api::start(DemoConfig::default());
    let (sid, ssid) = api.setup();
    let beat = api.post(
        "/api/v1/session_heartbeat",
        &json!({"session_id": sid, "type": "session_heartbeat"}),
    );
    assert_eq!(beat.status, 200);
    let info = api.get(&format!("/api/v1/samplers/{ssid}")).json();
    assert_eq!(info["base_model"], "Qwen/Qwen3-8B");
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(200))));
    let (got, _) = api.wait(&rid, "application/json");
    assert_eq!(got.content_type, "application/json");
    let seq = &got.json()["sequences"][0];
    let tokens = u32s(&seq["tokens"]);
    let text = decode(&tokens);
    assert!(text.contains("offline demo server"), "{text}");
    assert!(text.contains("Your prompt had 3 tokens."), "{text}");
    assert_eq!(*tokens.last().unwrap(), IM_END);
    assert_eq!(seq["stop_reason"], "stop");
    assert_eq!(seq["logprobs"].as_array().unwrap().len(), tokens.len());
    let finish = api.post(
        &format!("/api/v1/sessions/{sid}/finish"),
        &json!({"reason": {"type": "success"}, "detail": null}),
    );
    assert_eq!(finish.status, 200);
    let late = api.post(
        "/api/v1/session_heartbeat",
        &json!({"session_id": sid, "type": "session_heartbeat"}),
    );
    assert_eq!(late.status, 410, "a finished session stops heartbeats");
    let log = api.server.request_log();
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths.len(), 9, "{paths:?}");
    assert_eq!(paths[0], "/api/v1/client/config");
    assert_eq!(log[5].json().unwrap()["seq_id"], 0);
    assert_eq!(log[5].header("x-api-key"), Some("tml-test"));
    assert!(log.iter().take(8).all(|r| r.status == Some(200)));
}

#[test]
fn model_path_sampler_reports_the_configured_base_model() {
    let config = DemoConfig {
        base_model: "Qwen/Qwen3-32B".into(),
        ..DemoConfig::default()
    };
    let api = Api::start(config);
    let (sid, _) = api.setup();
    let body = json!({"session_id": sid, "sampling_session_seq_id": 1,
        "model_path": "tinker://run-1/sampler_weights/final", "type": "create_sampling_session"});
    let ssid = api.post("/api/v1/create_sampling_session", &body).json()["sampling_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let info = api.get(&format!("/api/v1/samplers/{ssid}")).json();
    assert_eq!(info["base_model"], "Qwen/Qwen3-32B");
    assert_eq!(info["model_path"], "tinker://run-1/sampler_weights/final");
}

#[test]
fn protobuf_when_accepted_json_otherwise_and_both_agree() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let mut body = asample_body(&ssid, 0, 2, params(Some(12)));
    body["prompt_logprobs"] = json!(true);
    body["topk_prompt_logprobs"] = json!(3);
    let rid = api.submit(&body);
    let (pb, _) = api.wait(&rid, "application/x-protobuf, application/json");
    assert_eq!(pb.content_type, "application/x-protobuf");
    let pb = SampleResponsePb::decode(pb.body.as_slice()).expect("valid protobuf");
    let (js, _) = api.wait(&rid, "application/json");
    let js = js.json();
    assert_eq!(pb.sequences.len(), 2);
    for (p, j) in pb.sequences.iter().zip(js["sequences"].as_array().unwrap()) {
        let tokens: Vec<u32> = p
            .tokens
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as u32)
            .collect();
        assert_eq!(tokens, u32s(&j["tokens"]));
        assert_eq!(
            (p.stop_reason, j["stop_reason"].as_str()),
            (1, Some("length"))
        );
        let lps = p.logprobs.as_ref().unwrap();
        let first = f32::from_le_bytes(lps[..4].try_into().unwrap());
        assert_eq!(f64::from(first), j["logprobs"][0].as_f64().unwrap());
    }
    let plp = pb.prompt_logprobs.unwrap();
    assert!(f32::from_le_bytes(plp[..4].try_into().unwrap()).is_nan());
    assert_eq!(js["prompt_logprobs"][0], Value::Null);
    assert_eq!(js["prompt_logprobs"].as_array().unwrap().len(), 3);
    let topk = pb.topk_prompt_logprobs.unwrap();
    assert_eq!((topk.k, topk.length), (3, 3));
    assert_eq!(js["topk_prompt_logprobs"][1].as_array().unwrap().len(), 3);
    assert_eq!(
        js["topk_prompt_logprobs"][1][0][0], 11,
        "the prompt token leads its row"
    );
}

#[test]
fn json_only_server_ignores_accept() {
    let config = DemoConfig {
        json_only: true,
        ..DemoConfig::default()
    };
    let api = Api::start(config);
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(5))));
    let (got, _) = api.wait(&rid, "application/x-protobuf");
    assert_eq!(got.content_type, "application/json");
    assert_eq!(
        got.json()["sequences"][0]["tokens"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

/// Samples through a fresh server and returns the JSON sequences.
fn sample(param_values: Value, num_samples: u32) -> Vec<Value> {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, num_samples, param_values));
    let (got, _) = api.wait(&rid, "application/json");
    got.json()["sequences"].as_array().unwrap().clone()
}

#[test]
fn max_tokens_cuts_with_stop_reason_length() {
    let seqs = sample(params(Some(4)), 1);
    assert_eq!(seqs[0]["stop_reason"], "length");
    assert_eq!(u32s(&seqs[0]["tokens"]).len(), 4);
}

#[test]
fn stop_string_ends_the_sequence_on_the_token_that_completes_it() {
    let mut p = params(Some(200));
    p.as_object_mut()
        .unwrap()
        .shift_insert(1, "stop".into(), json!(["prompt had"]));
    let seqs = sample(p, 1);
    let tokens = u32s(&seqs[0]["tokens"]);
    assert_eq!(seqs[0]["stop_reason"], "stop");
    let text = decode(&tokens);
    assert!(text.ends_with("prompt had"), "{text:?}");
    assert!(!decode(&tokens[..tokens.len() - 1]).contains("prompt had"));
}

#[test]
fn stop_token_is_kept_as_the_last_token() {
    let full = u32s(&sample(params(Some(200)), 1)[0]["tokens"]);
    let stop_id = full[3];
    let mut p = params(Some(200));
    p.as_object_mut()
        .unwrap()
        .shift_insert(1, "stop".into(), json!([stop_id]));
    let seqs = sample(p, 1);
    let tokens = u32s(&seqs[0]["tokens"]);
    assert_eq!(*tokens.last().unwrap(), stop_id);
    assert!(tokens.len() <= 4);
    assert_eq!(seqs[0]["stop_reason"], "stop");
}

#[test]
fn samples_are_distinct_deterministic_and_vary_with_the_seed() {
    let with_seed = |seed: i64| {
        let mut p = params(Some(100));
        p.as_object_mut()
            .unwrap()
            .shift_insert(1, "seed".into(), json!(seed));
        sample(p, 3)
    };
    let first = with_seed(1);
    let texts: Vec<String> = first.iter().map(|s| decode(&u32s(&s["tokens"]))).collect();
    assert_ne!(texts[0], texts[1]);
    assert_ne!(texts[1], texts[2]);
    assert!(texts[2].contains("sample 3 of 3"), "{}", texts[2]);
    assert_eq!(first, with_seed(1), "same request, same answer");
    assert_ne!(first[0]["tokens"], with_seed(2)[0]["tokens"]);
}

#[test]
fn max_tokens_below_one_is_a_user_error_result() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(0))));
    let (got, _) = api.wait(&rid, "application/x-protobuf");
    assert_eq!(got.status, 200);
    let body = got.json();
    assert_eq!(body["category"], "user");
    assert!(body["error"].as_str().unwrap().contains("max_tokens"));
}

#[test]
fn try_again_count_and_latency_delay_the_result() {
    let config = DemoConfig {
        try_again: 2,
        latency_ms: 150,
        poll_wait_ms: 20,
        ..DemoConfig::default()
    };
    let api = Api::start(config);
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 2, params(Some(3))));
    let started = std::time::Instant::now();
    let first = api.try_poll(&rid, "application/json").unwrap().json();
    assert_eq!(first["type"], "try_again");
    assert_eq!(first["queue_state"], "active");
    let (got, polls) = api.wait(&rid, "application/json");
    assert!(got.json()["sequences"].is_array());
    assert!(started.elapsed().as_millis() >= 250, "2 samples × 150 ms");
    assert!(polls >= 2, "{polls}");
}

/// `expected.json` → the server's result type, for re-encoding.
fn result_from_expected(v: &Value) -> SampleResult {
    let floats = |v: &Value| -> Option<Vec<f32>> {
        v.as_array()
            .map(|a| a.iter().map(|x| x.as_f64().unwrap() as f32).collect())
    };
    let sequences = v["sequences"].as_array().unwrap().iter().map(|s| Sequence {
        tokens: u32s(&s["tokens"]),
        logprobs: floats(&s["logprobs"]),
        stop_reason: match s["stop_reason"].as_str() {
            Some("stop") => StopReason::Stop,
            _ => StopReason::Length,
        },
    });
    let prompt = v["prompt_logprobs"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect());
    let topk = v["topk_prompt_logprobs"].as_array().map(|rows| {
        let cell = |c: &Value| (c[0].as_u64().unwrap() as u32, c[1].as_f64().unwrap() as f32);
        rows.iter()
            .map(|r| r.as_array().map(|cells| cells.iter().map(cell).collect()))
            .collect()
    });
    SampleResult {
        sequences: sequences.collect(),
        prompt_logprobs: prompt,
        topk_prompt_logprobs: topk,
        prompt_cache_hit_tokens: v["prompt_cache_hit_tokens"].as_i64().unwrap() as i32,
    }
}

#[test]
fn protobuf_encoding_matches_the_sdk_vectors_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vectors");
    let names = [
        "no_sequences",
        "one_sequence_stop",
        "prompt_logprobs_topk",
        "two_sequences_length",
    ];
    for name in names {
        let expected: Value =
            serde_json::from_slice(&fs::read(dir.join(format!("{name}.expected.json"))).unwrap())
                .unwrap();
        let pb = fs::read(dir.join(format!("{name}.pb"))).unwrap();
        let ours = proto::to_protobuf(&result_from_expected(&expected));
        assert_eq!(ours, pb, "{name}");
    }
}

#[test]
fn stop_releases_held_requests_and_closes_the_port() {
    let mut server = DemoServer::start(DemoConfig::default()).unwrap();
    let url = server.url();
    let started = std::time::Instant::now();
    server.stop();
    assert!(started.elapsed().as_secs() < 2);
    let refused = crate::support::demo_api::agent(std::time::Duration::from_secs(2))
        .post(format!("{url}/api/v1/client/config"))
        .send("{}");
    assert!(refused.is_err());
}
