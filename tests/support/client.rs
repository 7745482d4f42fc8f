//! Shared helpers for the client tests: a recording mock server and ready-made sessions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockito::{Mock, Server, ServerGuard};
use tinkex::client::{Config, RetryPolicy, SamplerSpec, SamplingClient, ServiceClient};
use tinkex::Deadline;

pub use super::KEY;

/// One request the mock server answered, in arrival order.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub body: String,
    pub headers: HashMap<String, String>,
}

/// Everything the mock server answered, in order.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    /// All requests so far.
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// Paths of all requests, with heartbeats left out.
    pub fn paths(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .map(|s| s.path)
            .filter(|p| !p.ends_with("session_heartbeat"))
            .collect()
    }

    /// Requests to one path.
    pub fn to(&self, path: &str) -> Vec<Seen> {
        self.all().into_iter().filter(|s| s.path == path).collect()
    }
}

/// A mock for `method path` answering `status` with `body`, recording each request.
pub fn answer(
    server: &mut Server,
    log: &Log,
    method: &str,
    path: &str,
    status: usize,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> Mock {
    let body: Vec<u8> = body.into();
    let log = log.clone();
    server
        .mock(method, path)
        .with_status(status)
        .with_header("content-type", content_type)
        .with_body_from_request(move |req| {
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            log.0.lock().unwrap().push(Seen {
                path: req.path().to_string(),
                body: req
                    .utf8_lossy_body()
                    .map(|b| b.into_owned())
                    .unwrap_or_default(),
                headers,
            });
            body.clone()
        })
}

/// A JSON mock for `POST path`.
pub fn post(server: &mut Server, log: &Log, path: &str, status: usize, body: &str) -> Mock {
    answer(server, log, "POST", path, status, "application/json", body)
}

/// Mocks for config, session, sampling session, heartbeat and finish.
pub fn setup(server: &mut Server, log: &Log) {
    post(server, log, "/api/v1/client/config", 200, "{}").create();
    post(
        server,
        log,
        "/api/v1/create_session",
        200,
        r#"{"session_id":"sess-1","info_message":null}"#,
    )
    .create();
    post(
        server,
        log,
        "/api/v1/create_sampling_session",
        200,
        r#"{"sampling_session_id":"samp-1"}"#,
    )
    .create();
    post(server, log, "/api/v1/session_heartbeat", 200, "{}")
        .expect_at_least(0)
        .create();
}

/// A fresh mock server and log with the setup calls answered.
pub fn ready() -> (ServerGuard, Log) {
    let mut server = Server::new();
    let log = Log::default();
    setup(&mut server, &log);
    (server, log)
}

/// An `asample` mock accepting the sample as `request_id` (the caller creates it).
pub fn accept(server: &mut Server, log: &Log, request_id: &str) -> Mock {
    post(server, log, "/api/v1/asample", 200, &accepted(request_id))
}

/// A `retrieve_future` mock answering `status` with `body` (the caller creates it).
pub fn retrieve(server: &mut Server, log: &Log, status: usize, body: &str) -> Mock {
    post(server, log, "/api/v1/retrieve_future", status, body)
}

/// Creates the `retrieve_future` mock answering [`RESULT_JSON`].
pub fn retrieve_result(server: &mut Server, log: &Log) {
    retrieve(server, log, 200, RESULT_JSON).create();
}

/// Creates mocks accepting the sample as `request_id`, then answering polls with the result.
pub fn accept_then_result(server: &mut Server, log: &Log, request_id: &str) {
    accept(server, log, request_id).create();
    retrieve_result(server, log);
}

/// `auth/token` answers each of `tokens` once, in order (the last one from then on).
pub fn exchanges(server: &mut Server, log: &Log, tokens: &[&str]) {
    for (i, token) in tokens.iter().enumerate() {
        let mock = post(
            server,
            log,
            "/api/v1/auth/token",
            200,
            &format!(r#"{{"jwt":"{token}"}}"#),
        );
        if i + 1 < tokens.len() {
            mock.expect(1).create();
        } else {
            mock.create();
        }
    }
}

/// The `seq_id`s of all `asample` requests, in order.
pub fn asample_seq_ids(log: &Log) -> Vec<u64> {
    log.to("/api/v1/asample")
        .iter()
        .map(|s| seq_id(&s.body))
        .collect()
}

/// Creates the mock answering the session's `finish`.
pub fn finish_ok(server: &mut Server, log: &Log) {
    post(server, log, "/api/v1/sessions/sess-1/finish", 200, "{}").create();
}

/// A config for `server`: fast retries, a 20 s deadline, no heartbeat during the test.
pub fn config(server: &Server) -> Config {
    let mut config = Config::new(KEY, server.url());
    config.retry = RetryPolicy::scaled(0.0);
    config.deadline = Deadline::after(Duration::from_secs(20));
    config.with_heartbeat_interval(Duration::from_secs(3600))
}

/// A service and a sampling client for `Qwen/Qwen3-8B` against `server`.
pub fn connect(config: Config) -> (ServiceClient, SamplingClient) {
    let service = ServiceClient::new(config).expect("session");
    let sampler = service
        .create_sampling_client(SamplerSpec::base_model("Qwen/Qwen3-8B"))
        .expect("sampling session");
    (service, sampler)
}

/// The asample answer of the official server.
pub fn accepted(request_id: &str) -> String {
    format!(r#"{{"request_id":"{request_id}","model_id":null,"sample_sequence_ids":[0]}}"#)
}

/// A JSON result with one sequence.
pub const RESULT_JSON: &str = r#"{"sequences":[{"tokens":[7,8],"logprobs":[-0.5,-0.25],"stop_reason":"length"}],"prompt_logprobs":null,"topk_prompt_logprobs":null,"type":"sample"}"#;

/// Reads a fixture file.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A JWT-shaped token with the given `exp` (unsigned).
pub fn jwt(exp: u64, tag: &str) -> String {
    let enc = |text: &str| base64url(text.as_bytes());
    format!(
        "{}.{}.sig{tag}",
        enc(r#"{"alg":"none","typ":"JWT"}"#),
        enc(&format!(r#"{{"exp":{exp},"iat":1}}"#))
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A policy with real nominal delays that records them instead of sleeping.
pub fn recorder() -> (tinkex::client::RetryPolicy, Arc<Mutex<Vec<Duration>>>) {
    let delays = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&delays);
    let policy = RetryPolicy::scaled(1.0).with_sleeper(move |d| sink.lock().unwrap().push(d));
    (policy, delays)
}

/// Whole seconds of recorded delays (as f64, for half-second steps).
pub fn secs(delays: &Arc<Mutex<Vec<Duration>>>) -> Vec<f64> {
    delays
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.as_secs_f64())
        .collect()
}

/// The `seq_id` of an asample body.
pub fn seq_id(body: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["seq_id"].as_u64().unwrap()
}

/// Connects, samples once and waits.
pub fn sample(config: Config) -> tinkex::Result<tinkex::client::SampleResponse> {
    let (_service, sampler) = connect(config);
    let prompt = tinkex::client::ModelInput::from_tokens(vec![1, 2, 3]);
    sampler
        .sample(prompt, 1, tinkex::client::SamplingParams::default())?
        .wait(None)
}

/// A config whose policy records delays; the deadline is long enough for them.
pub fn recording_config(server: &Server) -> (Config, Arc<Mutex<Vec<Duration>>>) {
    let (policy, delays) = recorder();
    let mut config = config(server);
    config.retry = policy;
    // Recorded delays take no real time, but each is still capped by the deadline.
    config.deadline = tinkex::Deadline::after(Duration::from_secs(7200));
    (config, delays)
}
