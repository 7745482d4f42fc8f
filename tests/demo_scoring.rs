//! The demo server speaks what SDK 0.38 sends: its recorded `asample` bodies are accepted,
//! `prompt_logprobs_last_n` and `topk_sample_logprobs` are honoured in JSON and protobuf.

use prost::Message;
use serde_json::{json, Value};

use crate::demo::model::{self, SampleSpec};
use crate::demo::proto::SampleResponsePb;
use crate::demo::DemoConfig;
use crate::support::demo_api::{asample_body, params, Api};

/// A body recorded from the official SDK (fixtures/sdk_requests), for this server's session.
fn sdk_body(name: &str, ssid: &str, seq: i64) -> Value {
    let path = format!(
        "{}/fixtures/sdk_requests/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    body["sampling_session_id"] = json!(ssid);
    body["seq_id"] = json!(seq);
    body
}

#[test]
fn every_recorded_sdk_body_is_accepted() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    for (seq, name) in ["sample", "compute_logprobs", "sample_topk"]
        .iter()
        .enumerate()
    {
        let got = api.asample(&sdk_body(name, &ssid, seq as i64));
        assert_eq!(got.status, 200, "{name}: {}", got.detail());
    }
}

#[test]
fn last_n_scores_only_the_suffix_in_both_encodings() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let rid = api.submit(&sdk_body("compute_logprobs", &ssid, 0));
    let (js, _) = api.wait(&rid, "application/json");
    let js = js.json();
    let spec = SampleSpec {
        prompt: vec![1, 2, 3, 4, 5],
        ..SampleSpec::default()
    };
    let want: Vec<f64> = [3, 4]
        .iter()
        .map(|&pos| f64::from(model::prompt_logprob(&spec, pos)))
        .collect();
    assert_eq!(
        js["prompt_logprobs"],
        json!([null, null, null, want[0], want[1]])
    );
    let (pb, _) = api.wait(&rid, "application/x-protobuf");
    let pb = SampleResponsePb::decode(pb.body.as_slice()).unwrap();
    let floats: Vec<f32> = pb
        .prompt_logprobs
        .unwrap()
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats.len(), 5);
    assert!(floats[..3].iter().all(|f| f.is_nan()), "{floats:?}");
    assert_eq!(f64::from(floats[3]), want[0]);
    assert_eq!(f64::from(floats[4]), want[1]);
}

#[test]
fn sampled_top_k_leads_with_the_sampled_token_in_both_encodings() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let rid = api.submit(&sdk_body("sample_topk", &ssid, 0));
    let (js, _) = api.wait(&rid, "application/json");
    let js = js.json();
    let seq = &js["sequences"][0];
    let rows = seq["topk_logprobs"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "one row per sampled token (max_tokens 3)");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.as_array().unwrap().len(), 3);
        assert_eq!(row[0][0], seq["tokens"][i]);
        assert_eq!(row[0][1], seq["logprobs"][i]);
        assert!(row[1][1].as_f64() < row[0][1].as_f64());
    }
    let (pb, _) = api.wait(&rid, "application/x-protobuf");
    let pb = SampleResponsePb::decode(pb.body.as_slice()).unwrap();
    let table = pb.sequences[0].topk_sampled_logprobs.as_ref().unwrap();
    assert_eq!((table.k, table.length), (3, 3));
    let first = i32::from_le_bytes(table.token_ids[..4].try_into().unwrap());
    assert_eq!(json!(first), seq["tokens"][0]);
    // Same request, same alternatives: the demo model is deterministic.
    let again = api.submit(&sdk_body("sample_topk", &ssid, 1));
    assert_eq!(api.wait(&again, "application/json").0.json(), js);
}

#[test]
fn fields_the_demo_model_cannot_serve_are_refused_with_a_reason() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let cases = [
        ("prompt_alt_tokens_k", json!(2), 400, "prompt_alt_tokens_k"),
        ("prompt_logprobs_last_n", json!(5), 422, "between 1 and 4"),
        ("prompt_logprobs_last_n", json!(0), 422, "between 1 and 4"),
        ("topk_sample_logprobs", json!(101), 422, "between 0 and 100"),
        (
            "record_stability_info",
            json!(1),
            422,
            "record_stability_info",
        ),
    ];
    for (key, value, status, says) in cases {
        let mut body = sdk_body("compute_logprobs", &ssid, 0);
        body[key] = value;
        let got = api.asample(&body);
        assert_eq!(got.status, status, "{key}");
        assert!(got.detail().contains(says), "{key}: {}", got.detail());
    }
    let mut plain = asample_body(&ssid, 0, 1, params(Some(2)));
    plain["prompt_logprobs_last_n"] = json!(1);
    let got = api.asample(&plain);
    assert_eq!(got.status, 422);
    assert!(
        got.detail().contains("keys must come in the order"),
        "{}",
        got.detail()
    );
}
