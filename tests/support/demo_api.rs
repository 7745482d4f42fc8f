//! Helpers for driving the in-process demo server with plain ureq requests.

use std::time::Duration;

use serde_json::{json, Value};

use crate::demo::{DemoConfig, DemoServer};

/// A started server with a client speaking to it.
pub struct Api {
    /// The server (stopped on drop).
    pub server: DemoServer,
    agent: ureq::Agent,
    /// The `X-API-Key` sent.
    pub key: String,
}

/// An answer, read whole.
pub struct Got {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, or empty.
    pub content_type: String,
    /// `WWW-Authenticate`, or empty.
    pub www_authenticate: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Got {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `detail` of an error body.
    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// An agent that never follows redirects or proxies, with an overall timeout.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

impl Api {
    /// Starts a server with `config` and a client using the key `tml-test`.
    pub fn start(config: DemoConfig) -> Api {
        Api::with_timeout(config, Duration::from_secs(20))
    }

    /// As `start`, with a client whose calls give up after `timeout`.
    pub fn with_timeout(config: DemoConfig, timeout: Duration) -> Api {
        let server = DemoServer::start(config).expect("demo server starts");
        Api {
            server,
            agent: agent(timeout),
            key: "tml-test".into(),
        }
    }

    /// The standard headers of a tinkex POST, plus `extra`.
    fn headers<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut headers = vec![
            ("X-API-Key", self.key.as_str()),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", "tinkex/test"),
            ("X-Idempotency-Key", "00000000-0000-4000-8000-000000000000"),
        ];
        for (name, value) in extra {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name, value));
        }
        headers
    }

    /// POSTs `body` with the standard headers (an `extra` header replaces a standard one).
    pub fn try_post(
        &self,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Result<Got, ureq::Error> {
        let mut request = self.agent.post(format!("{}{path}", self.server.url()));
        for (name, value) in self.headers(extra) {
            if !value.is_empty() {
                request = request.header(name, value);
            }
        }
        read(request.send(body)?)
    }

    /// POSTs JSON and expects an answer.
    pub fn post(&self, path: &str, body: &Value) -> Got {
        self.try_post(path, &body.to_string(), &[])
            .unwrap_or_else(|e| panic!("POST {path} failed: {e}"))
    }

    /// GETs `path` with the key.
    pub fn get(&self, path: &str) -> Got {
        let request = self
            .agent
            .get(format!("{}{path}", self.server.url()))
            .header("X-API-Key", self.key.as_str());
        read(request.call().expect("GET answers")).expect("GET body")
    }

    /// client/config, create_session and create_sampling_session: `(session, sampler)`.
    pub fn setup(&self) -> (String, String) {
        let config = self.post("/api/v1/client/config", &json!({"sdk_version": "0.38.0"}));
        assert_eq!(
            config.status,
            200,
            "{}",
            String::from_utf8_lossy(&config.body)
        );
        let session = self.post("/api/v1/create_session", &create_session_body());
        assert_eq!(
            session.status,
            200,
            "{}",
            String::from_utf8_lossy(&session.body)
        );
        let sid = session.json()["session_id"].as_str().unwrap().to_string();
        let body = json!({"session_id": sid, "sampling_session_seq_id": 0,
            "base_model": "Qwen/Qwen3-8B", "type": "create_sampling_session"});
        let sampler = self.post("/api/v1/create_sampling_session", &body);
        assert_eq!(
            sampler.status,
            200,
            "{}",
            String::from_utf8_lossy(&sampler.body)
        );
        let ssid = sampler.json()["sampling_session_id"]
            .as_str()
            .unwrap()
            .to_string();
        (sid, ssid)
    }

    /// POSTs an asample body with the backpressure header.
    pub fn asample(&self, body: &Value) -> Got {
        self.try_post(
            "/api/v1/asample",
            &body.to_string(),
            &[("X-Tinker-Sampling-Backpressure", "1")],
        )
        .expect("asample answers")
    }

    /// Submits and returns the request id.
    pub fn submit(&self, body: &Value) -> String {
        let got = self.asample(body);
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        got.json()["request_id"].as_str().unwrap().to_string()
    }

    /// One retrieve_future poll with this `Accept`.
    pub fn try_poll(&self, rid: &str, accept: &str) -> Result<Got, ureq::Error> {
        let headers = [
            ("Accept", accept),
            ("X-Tinker-Request-Iteration", "0"),
            ("X-Tinker-Request-Type", "Sample"),
        ];
        let body = json!({ "request_id": rid }).to_string();
        self.try_post("/api/v1/retrieve_future", &body, &headers)
    }

    /// Polls until the answer is not `try_again`; returns it and the number of polls made.
    pub fn wait(&self, rid: &str, accept: &str) -> (Got, usize) {
        for polls in 1..=100 {
            let got = self.try_poll(rid, accept).expect("retrieve_future answers");
            let again = got.content_type.contains("json") && got.json()["type"] == "try_again";
            if !again {
                return (got, polls);
            }
        }
        panic!("still try_again after 100 polls");
    }
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<Got, ureq::Error> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let content_type = header("content-type");
    let www_authenticate = header("www-authenticate");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_vec()?;
    Ok(Got {
        status,
        content_type,
        www_authenticate,
        body,
    })
}

/// The create_session body tinkex sends.
pub fn create_session_body() -> Value {
    json!({"tags": [], "user_metadata": {}, "sdk_version": "0.38.0", "type": "create_session"})
}

/// An asample body in the protocol's key order.
pub fn asample_body(ssid: &str, seq: i64, num_samples: u32, params: Value) -> Value {
    json!({
        "num_samples": num_samples,
        "prompt": {"chunks": [{"tokens": [9707, 11, 1879], "type": "encoded_text"}]},
        "sampling_params": params,
        "sampling_session_id": ssid,
        "seq_id": seq,
        "prompt_logprobs": false,
        "topk_prompt_logprobs": 0,
        "type": "sample",
    })
}

/// Default sampling params (temperature, top_k, top_p), optionally with `max_tokens`.
pub fn params(max_tokens: Option<i64>) -> Value {
    let mut p = serde_json::Map::new();
    if let Some(m) = max_tokens {
        p.insert("max_tokens".into(), json!(m));
    }
    p.insert("temperature".into(), json!(1.0));
    p.insert("top_k".into(), json!(-1));
    p.insert("top_p".into(), json!(1.0));
    Value::Object(p)
}
