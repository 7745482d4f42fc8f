//! Each injected fault does what it says, and the `--fault` syntax parses (and refuses) as documented.

use std::time::{Duration, Instant};

use prost::Message;
use serde_json::json;

use crate::demo::proto::SampleResponsePb;
use crate::demo::{DemoConfig, Endpoint, FaultKind, FaultSpec};
use crate::support::demo_api::{asample_body, params, Api};

fn with_faults(specs: &[&str]) -> DemoConfig {
    DemoConfig {
        faults: specs.iter().map(|s| s.parse().unwrap()).collect(),
        poll_wait_ms: 20,
        ..DemoConfig::default()
    }
}

#[test]
fn fault_specs_parse() {
    let spec: FaultSpec = "asample=429x2,500x1,drop".parse().unwrap();
    assert_eq!(spec.endpoint, Endpoint::Asample);
    let kinds: Vec<(FaultKind, Option<u32>)> =
        spec.steps.iter().map(|s| (s.kind, s.times)).collect();
    assert_eq!(
        kinds,
        [
            (FaultKind::Status(429), Some(2)),
            (FaultKind::Status(500), Some(1)),
            (FaultKind::Drop, None)
        ]
    );
    let never: FaultSpec = "retrieve_future=never".parse().unwrap();
    assert_eq!(never.steps[0].times, None);
    for name in ["malformed", "hang", "stall", "dropx3"] {
        assert!(
            format!("finish={name}").parse::<FaultSpec>().is_ok(),
            "{name}"
        );
    }
}

#[test]
fn bad_fault_specs_name_the_problem() {
    let err = |s: &str| s.parse::<FaultSpec>().unwrap_err();
    assert!(err("asample").contains("expected ENDPOINT=KIND"));
    assert!(err("sample=429").contains("unknown endpoint `sample`"));
    assert!(err("asample=200").contains("unknown fault `200`"));
    assert!(err("asample=429x0").contains("at least 1"));
    assert!(err("asample=explode").starts_with("unknown fault `explode`"));
}

#[test]
fn status_faults_hit_the_first_calls_then_the_endpoint_recovers() {
    let api = Api::start(with_faults(&["asample=429x2,503x1"]));
    let (_, ssid) = api.setup();
    let body = asample_body(&ssid, 0, 1, params(Some(2)));
    let statuses: Vec<u16> = (0..4).map(|_| api.asample(&body).status).collect();
    assert_eq!(
        statuses,
        [429, 429, 503, 200],
        "the same seq_id after each failure"
    );
    let first = api.asample(&asample_body(&ssid, 1, 1, params(Some(2))));
    assert_eq!(first.status, 200, "faulted calls did not consume seq_ids");
    let log = api.server.request_log();
    let detail: serde_json::Value = serde_json::from_slice(&log[0].body).unwrap_or_default();
    assert!(detail.is_object());
}

#[test]
fn status_fault_bodies_are_realistic() {
    let api = Api::start(with_faults(&[
        "retrieve_future=410x1,400x1",
        "config=401x1,402x1",
    ]));
    let unauthorized = api.post("/api/v1/client/config", &json!({"sdk_version": "0.38.0"}));
    assert_eq!(unauthorized.status, 401);
    assert!(unauthorized.www_authenticate.contains("invalid_token"));
    let billing = api.post("/api/v1/client/config", &json!({"sdk_version": "0.38.0"}));
    assert_eq!(billing.status, 402);
    assert!(billing.detail().contains("billing"));
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(2))));
    let expired = api.try_poll(&rid, "application/json").unwrap();
    assert_eq!(expired.status, 410);
    assert!(
        expired.detail().starts_with("Promise expired"),
        "{}",
        expired.detail()
    );
    let bare = api.try_poll(&rid, "application/json").unwrap();
    assert_eq!(bare.status, 400);
    assert!(!bare.detail().is_empty());
    let (ok, _) = api.wait(&rid, "application/json");
    assert_eq!(ok.status, 200);
}

#[test]
fn drop_closes_the_connection_without_an_answer() {
    let api = Api::start(with_faults(&["create_session=dropx1"]));
    let body = crate::support::demo_api::create_session_body().to_string();
    let dropped = api.try_post("/api/v1/create_session", &body, &[]);
    assert!(dropped.is_err(), "no HTTP answer at all");
    assert_eq!(api.server.request_log()[0].status, None);
    let next = api.try_post("/api/v1/create_session", &body, &[]).unwrap();
    assert_eq!(next.status, 200);
}

#[test]
fn malformed_breaks_json_and_protobuf_bodies() {
    let api = Api::start(with_faults(&[
        "create_session=malformedx1",
        "retrieve_future=malformedx2",
    ]));
    let body = crate::support::demo_api::create_session_body().to_string();
    let bad = api.try_post("/api/v1/create_session", &body, &[]).unwrap();
    assert_eq!(bad.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&bad.body).is_err());
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(3))));
    let pb = api.try_poll(&rid, "application/x-protobuf").unwrap();
    assert_eq!(pb.content_type, "application/x-protobuf");
    assert!(SampleResponsePb::decode(pb.body.as_slice()).is_err());
    let js = api.try_poll(&rid, "application/json").unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&js.body).is_err());
    let (good, _) = api.wait(&rid, "application/x-protobuf");
    assert!(SampleResponsePb::decode(good.body.as_slice()).is_ok());
}

#[test]
fn never_keeps_answering_try_again() {
    let api = Api::start(with_faults(&["retrieve_future=never"]));
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(2))));
    for _ in 0..5 {
        let got = api.try_poll(&rid, "application/json").unwrap().json();
        assert_eq!(got["type"], "try_again");
        assert_eq!(got["request_id"], rid.as_str());
    }
}

#[test]
fn hang_holds_the_call_and_other_calls_still_work() {
    let api = Api::with_timeout(
        with_faults(&["session_heartbeat=hang"]),
        Duration::from_millis(300),
    );
    let (sid, _) = api.setup();
    let started = Instant::now();
    let beat = json!({"session_id": sid, "type": "session_heartbeat"}).to_string();
    let held = api.try_post("/api/v1/session_heartbeat", &beat, &[]);
    assert!(held.is_err(), "the client timed out");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let config = api.post("/api/v1/client/config", &json!({"sdk_version": "0.38.0"}));
    assert_eq!(config.status, 200);
}

#[test]
fn stall_sends_headers_then_stops_mid_body() {
    let api = Api::with_timeout(
        with_faults(&["retrieve_future=stallx1"]),
        Duration::from_millis(400),
    );
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(3))));
    let stalled = api.try_poll(&rid, "application/json");
    assert!(stalled.is_err(), "the body never completes");
    let log = api.server.request_log();
    assert_eq!(log.last().unwrap().status, Some(200), "headers said 200");
    let (got, _) = api.wait(&rid, "application/json");
    assert!(got.json()["sequences"].is_array());
}

#[test]
fn stopping_the_server_releases_a_hang_at_once() {
    let mut api = Api::with_timeout(with_faults(&["config=hang"]), Duration::from_secs(10));
    let url = api.server.url();
    let client = std::thread::spawn(move || {
        let agent = crate::support::demo_api::agent(Duration::from_secs(10));
        let started = Instant::now();
        let result = agent
            .post(format!("{url}/api/v1/client/config"))
            .header("X-API-Key", "tml-x")
            .send("{}");
        (result.is_err(), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    api.server.stop();
    let (failed, waited) = client.join().unwrap();
    assert!(failed);
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}
