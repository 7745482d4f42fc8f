//! The demo server rejects what a strict server would, with a `detail` that names the problem.

use serde_json::{json, Value};

use crate::demo::{DemoConfig, SeqIds};
use crate::support::demo_api::{asample_body, create_session_body, params, Api, Got};

fn raw(api: &Api, path: &str, body: &str, extra: &[(&str, &str)]) -> Got {
    api.try_post(path, body, extra).expect("an answer")
}

#[test]
fn credentials_are_checked_without_echoing_them() {
    let config = DemoConfig {
        require_key: Some("tml-right".into()),
        ..DemoConfig::default()
    };
    let api = Api::start(config);
    let body = r#"{"sdk_version":"0.38.0"}"#;
    let path = "/api/v1/client/config";
    let missing = raw(&api, path, body, &[("X-API-Key", "")]);
    assert_eq!(
        (missing.status, missing.detail().as_str()),
        (401, "missing X-API-Key header")
    );
    let prefix = raw(&api, path, body, &[("X-API-Key", "sk-secret-123")]);
    assert_eq!(prefix.status, 401);
    assert!(prefix.detail().contains("tml-"), "{}", prefix.detail());
    assert!(!String::from_utf8_lossy(&prefix.body).contains("secret"));
    let wrong = raw(&api, path, body, &[("X-API-Key", "tml-wrong")]);
    assert_eq!(
        (wrong.status, wrong.detail().as_str()),
        (401, "invalid API key")
    );
    let bearer = raw(
        &api,
        path,
        body,
        &[("X-API-Key", "tml-right"), ("Authorization", "Bearer x")],
    );
    assert_eq!(bearer.status, 400);
    let right = raw(&api, path, body, &[("X-API-Key", "tml-right")]);
    assert_eq!(right.status, 200);
}

#[test]
fn jwt_mode_issues_a_jwt_and_requires_it_after_config() {
    let config = DemoConfig {
        jwt: true,
        ..DemoConfig::default()
    };
    let mut api = Api::start(config);
    let config = api.post("/api/v1/client/config", &json!({"sdk_version": "0.38.0"}));
    assert_eq!(config.json()["pjwt_auth_enabled"], true);
    let raw_key = api.post("/api/v1/create_session", &create_session_body());
    assert_eq!(raw_key.status, 401);
    assert!(raw_key.www_authenticate.contains("invalid_token"));
    let jwt = api.post("/api/v1/auth/token", &json!({})).json()["jwt"]
        .as_str()
        .unwrap()
        .to_string();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(jwt.starts_with("eyJ"));
    let payload = base64url_decode(parts[1]);
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
    api.key = jwt;
    assert_eq!(
        api.post("/api/v1/create_session", &create_session_body())
            .status,
        200
    );
    api.key = "eyJhbGciOiJub25lIn0.e30.x".into();
    let foreign = api.post("/api/v1/create_session", &create_session_body());
    assert_eq!(foreign.status, 401, "a JWT the server did not issue");
}

#[test]
fn an_expired_jwt_gets_invalid_token() {
    let config = DemoConfig {
        jwt: true,
        jwt_ttl_secs: 0,
        ..DemoConfig::default()
    };
    let mut api = Api::start(config);
    api.key = api.post("/api/v1/auth/token", &json!({})).json()["jwt"]
        .as_str()
        .unwrap()
        .to_string();
    let got = api.post("/api/v1/create_session", &create_session_body());
    assert_eq!(
        (got.status, got.detail().as_str()),
        (401, "the JWT has expired")
    );
    assert!(got.www_authenticate.contains(r#"error="invalid_token""#));
}

fn base64url_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        _ => 63,
    };
    let bits: Vec<u8> = s.bytes().map(value).collect();
    let mut out = Vec::new();
    for chunk in bits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, v)| acc | (u32::from(*v) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn headers_and_bodies_are_checked() {
    let api = Api::start(DemoConfig::default());
    let path = "/api/v1/client/config";
    let form = raw(&api, path, "{}", &[("Content-Type", "text/plain")]);
    assert_eq!(form.status, 415);
    let no_key = raw(&api, path, "{}", &[("X-Idempotency-Key", "")]);
    assert_eq!(
        (no_key.status, no_key.detail().as_str()),
        (400, "missing X-Idempotency-Key header")
    );
    let broken = raw(&api, path, "{\"sdk_version\":", &[]);
    assert_eq!(broken.status, 422);
    assert!(broken
        .detail()
        .starts_with("request body is not valid JSON"));
    let old = api.post(path, &json!({"sdk_version": "0.1.0"}));
    assert_eq!(old.status, 422);
    assert!(old.detail().contains("0.38.0"));
    let extra = api.post(path, &json!({"sdk_version": "0.38.0", "x": 1}));
    assert_eq!(extra.detail(), "client/config: unknown field `x`");
    let mut typed = create_session_body();
    typed["type"] = json!("session");
    let typed = api.post("/api/v1/create_session", &typed);
    assert_eq!(typed.status, 422);
    assert!(typed.detail().contains("\"create_session\""));
    assert_eq!(api.post("/api/v1/nope", &json!({})).status, 404);
    assert_eq!(api.get("/api/v1/asample").status, 405);
    assert_eq!(
        api.post("/api/v1//create_session", &create_session_body())
            .status,
        404
    );
}

#[test]
fn unknown_ids_are_404_with_detail() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let beat = api.post(
        "/api/v1/session_heartbeat",
        &json!({"session_id": "nope", "type": "session_heartbeat"}),
    );
    assert_eq!(
        (beat.status, beat.detail().as_str()),
        (404, "Session not found: nope")
    );
    assert_eq!(
        api.get("/api/v1/samplers/nope").detail(),
        "Sampler not found: nope"
    );
    let sample = api.asample(&asample_body("nope", 0, 1, params(None)));
    assert_eq!(sample.status, 404);
    let poll = api.try_poll("nope", "application/json").unwrap();
    assert_eq!(
        (poll.status, poll.detail().as_str()),
        (404, "Request not found: nope")
    );
    let finish = api.post(
        "/api/v1/sessions/nope/finish",
        &json!({"reason": {"type": "success"}, "detail": null}),
    );
    assert_eq!(finish.status, 404);
    let body = json!({"session_id": "nope", "sampling_session_seq_id": 0,
        "base_model": "m", "type": "create_sampling_session"});
    assert_eq!(
        api.post("/api/v1/create_sampling_session", &body).status,
        404
    );
    assert_eq!(
        api.asample(&asample_body(&ssid, 0, 1, params(None))).status,
        200
    );
}

#[test]
fn asample_body_shape_is_strict() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let good = asample_body(&ssid, 0, 1, params(Some(8)));
    let mut reordered = serde_json::Map::new();
    for key in ["prompt", "num_samples"] {
        reordered.insert(key.into(), good[key].clone());
    }
    for (k, v) in good.as_object().unwrap() {
        reordered.entry(k.clone()).or_insert(v.clone());
    }
    let got = api.asample(&Value::Object(reordered));
    assert_eq!(got.status, 422);
    assert!(
        got.detail().contains("keys must come in the order"),
        "{}",
        got.detail()
    );
    let mut null_seed = good.clone();
    null_seed["sampling_params"]
        .as_object_mut()
        .unwrap()
        .shift_insert(1, "seed".into(), Value::Null);
    let got = api.asample(&null_seed);
    assert_eq!(
        got.detail(),
        "sampling_params: `seed` is null; omit unset fields instead"
    );
    let mut chunk = good.clone();
    chunk["prompt"]["chunks"][0]["type"] = json!("text");
    assert_eq!(api.asample(&chunk).status, 422);
    let mut vocab = good.clone();
    vocab["prompt"]["chunks"][0]["tokens"] = json!([1, 999_999]);
    let got = api.asample(&vocab);
    assert_eq!(got.status, 400);
    assert!(got.detail().contains("999999"));
    let mut top_k = good.clone();
    top_k["sampling_params"]["top_k"] = json!(0);
    assert_eq!(api.asample(&top_k).status, 422);
    let no_backpressure = api
        .try_post("/api/v1/asample", &good.to_string(), &[])
        .unwrap();
    assert_eq!(no_backpressure.status, 400);
    assert_eq!(api.asample(&good).status, 200, "the good body still works");
}

#[test]
fn seq_id_may_repeat_or_arrive_out_of_order_but_not_jump() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let send = |seq| api.asample(&asample_body(&ssid, seq, 1, params(Some(2))));
    let window = SeqIds::WINDOW;
    let far = send(window);
    assert_eq!(far.status, 400, "the first seq_ids are 0…{}", window - 1);
    assert!(far.detail().contains("out of sequence (expected 0…1023)"));
    assert_eq!(send(-1).status, 400);
    assert_eq!(
        send(1).status,
        200,
        "parallel submissions arrive in any order"
    );
    assert_eq!(send(0).status, 200);
    assert_eq!(send(0).status, 200, "a retry re-sends the same seq_id");
    assert_eq!(
        send(window + 1).status,
        200,
        "0 and 1 used: the window moved by 2"
    );
    let jump = send(window + 2);
    assert_eq!(jump.status, 400);
    assert!(
        jump.detail().contains("expected 2…1025"),
        "{}",
        jump.detail()
    );
}

#[test]
fn retrieve_future_needs_its_headers() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let rid = api.submit(&asample_body(&ssid, 0, 1, params(Some(2))));
    let body = json!({ "request_id": rid }).to_string();
    let path = "/api/v1/retrieve_future";
    let no_iteration = raw(&api, path, &body, &[("X-Tinker-Request-Type", "Sample")]);
    assert_eq!(no_iteration.status, 400);
    let headers = [
        ("X-Tinker-Request-Iteration", "0"),
        ("X-Tinker-Request-Type", "Train"),
    ];
    assert_eq!(raw(&api, path, &body, &headers).status, 400);
    let extra = json!({ "request_id": rid, "x": 1 }).to_string();
    let headers = [
        ("X-Tinker-Request-Iteration", "0"),
        ("X-Tinker-Request-Type", "Sample"),
    ];
    assert_eq!(raw(&api, path, &extra, &headers).status, 422);
}
