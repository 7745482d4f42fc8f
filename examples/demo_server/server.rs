//! tinkex's offline demo server: a strict, deterministic stand-in for the Tinker API with fault
//! injection. Used by `make demo` (through `main.rs`) and, in-process, by the integration tests.
//!
//! Not part of the shipped `tinkex` binary. Tests include this file with
//! `#[path = "../examples/demo_server/server.rs"] mod demo_server;`, so every submodule is
//! declared with an explicit `#[path]` (resolved next to this file) and each user needs only
//! part of the API.
#![allow(dead_code)]

#[path = "auth.rs"]
mod auth;
// Billing usage and checkpoint storage from a built-in data set.
#[path = "billing.rs"]
mod billing;
#[path = "catalog.rs"]
mod catalog;
// Downloadable checkpoints and the signed storage URLs behind them.
#[path = "download.rs"]
mod download;
#[path = "faults.rs"]
pub mod faults;
#[path = "handlers.rs"]
mod handlers;
// Image chunks: format and expected_tokens checked as the real server does.
#[path = "images.rs"]
mod images;
// Checkpoint publish, unpublish, set-ttl and delete over a mutable catalog.
#[path = "lifecycle.rs"]
mod lifecycle;
#[path = "model.rs"]
pub mod model;
#[path = "proto.rs"]
pub mod proto;
#[path = "relay.rs"]
mod relay;
#[path = "reply.rs"]
mod reply;
#[path = "sampling.rs"]
mod sampling;
#[path = "sessions.rs"]
mod sessions;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[allow(unused_imports)] // the binary uses only FaultSpec
pub use faults::{Endpoint, FaultKind, FaultSpec};
use handlers::Ctx;
use relay::Relay;
use reply::{Answer, Call, Reply};
#[allow(unused_imports)] // the tests' window check
pub use sampling::SeqIds;

/// The fixture tokenizer, found from the crate root at compile time.
pub const DEFAULT_TOKENIZER: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/qwen3/tokenizer.json");

/// How long a `hang` or `stall` fault holds a connection at most (the server stopping ends it sooner).
const MAX_HOLD: Duration = Duration::from_secs(600);

/// Request bodies larger than this are refused.
const MAX_BODY: u64 = 64 << 20;

/// The server's knobs; `DemoConfig::default()` is a quiet, fault-free, fast server.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    /// The tokenizer the demo model speaks (`tokenizer.json`).
    pub tokenizer: PathBuf,
    /// Simulated sampling time per requested sample, in milliseconds.
    pub latency_ms: u64,
    /// How many polls of each request answer `try_again` before the result.
    pub try_again: u32,
    /// How long `retrieve_future` holds a poll while the request runs (long-poll), in ms.
    pub poll_wait_ms: u64,
    /// Never answer protobuf, whatever `Accept` says (an older server).
    pub json_only: bool,
    /// The only API key accepted, if set.
    pub require_key: Option<String>,
    /// Enable `pjwt_auth_enabled`: clients must exchange their key for a JWT.
    pub jwt: bool,
    /// Lifetime of issued JWTs, in seconds.
    pub jwt_ttl_secs: u64,
    /// `queue_state` sent with `try_again` (`active`, `paused_capacity`, `paused_rate_limit`).
    pub queue_state: String,
    /// The base model reported for sampling sessions created from a `model_path` only.
    pub base_model: String,
    /// Injected faults.
    pub faults: Vec<FaultSpec>,
    /// Print one stderr line per request (the binary does; tests don't).
    pub log_requests: bool,
    /// Announce `sample_cancel_enabled` and answer `cancel_future` (else it is a 404).
    pub sample_cancel: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            port: 0,
            tokenizer: PathBuf::from(DEFAULT_TOKENIZER),
            latency_ms: 0,
            try_again: 0,
            poll_wait_ms: 1000,
            json_only: false,
            require_key: None,
            jwt: false,
            jwt_ttl_secs: 3600,
            queue_state: "active".into(),
            base_model: "Qwen/Qwen3-8B".into(),
            faults: Vec::new(),
            log_requests: false,
            sample_cancel: false,
        }
    }
}

/// One request as the server received it, and what it answered.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, query string included.
    pub path: String,
    /// Headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status answered; `None` when the connection was dropped or held unanswered.
    pub status: Option<u16>,
    /// When it arrived, since the server started.
    pub at: Duration,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Lets held requests sleep and wakes them all at once when the server stops.
#[derive(Debug, Default)]
pub struct Stopper {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stopper {
    /// Sleeps up to `timeout`; returns true if the server is stopping.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }

    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }
}

/// A running demo server; stops when dropped.
pub struct DemoServer {
    shared: Arc<Shared>,
    http: Arc<tiny_http::Server>,
    dispatcher: Option<JoinHandle<()>>,
}

/// What the dispatcher and request threads share.
struct Shared {
    ctx: Ctx,
    relay: Relay,
    log: Mutex<Vec<RecordedRequest>>,
    started: Instant,
}

impl DemoServer {
    /// Starts listening on `127.0.0.1:config.port`; the tokenizer loads in the background.
    pub fn start(config: DemoConfig) -> Result<DemoServer, String> {
        if !config.tokenizer.is_file() {
            return Err(format!(
                "tokenizer file not found: {}",
                config.tokenizer.display()
            ));
        }
        let http =
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
        let inner = http
            .server_addr()
            .to_ip()
            .ok_or("tiny_http did not bind an IP address")?;
        let relay = Relay::start(config.port, inner)
            .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", config.port))?;
        let path = config.tokenizer.clone();
        // Warm the tokenizer now so the first asample does not pay for loading it.
        thread::spawn(move || model::load_tokenizer(&path));
        let shared = Arc::new(Shared {
            ctx: Ctx::new(config),
            relay,
            log: Mutex::default(),
            started: Instant::now(),
        });
        let http = Arc::new(http);
        let shared3 = shared.clone();
        thread::Builder::new()
            .name("demo-unstick".into())
            .spawn(move || unstick(&shared3, inner))
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let (http2, shared2) = (http.clone(), shared.clone());
        let dispatcher = thread::Builder::new()
            .name("demo-dispatch".into())
            .spawn(move || dispatch(&http2, &shared2))
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        Ok(DemoServer {
            shared,
            http,
            dispatcher: Some(dispatcher),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.relay.addr())
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.shared.relay.addr().port()
    }

    /// Every request received so far, in arrival order.
    pub fn request_log(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Stops the server: held requests are released, open connections closed.
    pub fn stop(&mut self) {
        self.shared.ctx.stopper.stop();
        if let Some(dispatcher) = self.dispatcher.take() {
            self.http.unblock();
            let _ = dispatcher.join();
            self.shared.relay.stop();
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How often [`unstick`] knocks, and for how long after a new client connection.
const UNSTICK_EVERY: Duration = Duration::from_millis(10);
const UNSTICK_FOR: Duration = Duration::from_millis(300);

/// Works around a race in tiny_http 0.12's connection thread pool: when connections arrive in a
/// burst, its count of idle threads is stale, so a new connection can be queued with no thread
/// woken for it, and it then waits until some other connection closes (seconds, with
/// keep-alive clients). Shortly after each new client connection, an empty connection every
/// few milliseconds makes a thread finish a task and pick up whatever is queued.
fn unstick(shared: &Shared, inner: std::net::SocketAddr) {
    let (mut seen, mut changed) = (0, Instant::now());
    while !shared.ctx.stopper.wait(UNSTICK_EVERY) {
        let made = shared.relay.connections();
        if made != seen {
            (seen, changed) = (made, Instant::now());
        }
        if changed.elapsed() < UNSTICK_FOR {
            drop(std::net::TcpStream::connect(inner));
        }
    }
}

/// Hands each request to its own thread: held and long-polled requests must not starve others.
fn dispatch(http: &tiny_http::Server, shared: &Arc<Shared>) {
    loop {
        let request = http.recv();
        if shared.ctx.stopper.wait(Duration::ZERO) {
            return;
        }
        let Ok(request) = request else { continue };
        let shared = shared.clone();
        let _ = thread::Builder::new()
            .name("demo-request".into())
            .spawn(move || serve(&shared, request));
    }
}

fn serve(shared: &Shared, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let read = request.as_reader().take(MAX_BODY).read_to_end(&mut body);
    let call = Call {
        method: request.method().as_str().to_string(),
        path: request.url().to_string(),
        headers: request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
            .collect(),
        body,
    };
    let reply = match read {
        Ok(_) => handlers::handle(&shared.ctx, &call),
        Err(e) => Reply::Answer(Answer::detail(
            400,
            format!("cannot read the request body: {e}"),
        )),
    };
    record(shared, call, reply.status());
    execute(shared, request, reply);
}

/// Sends the reply, or holds/cuts the connection as the reply says.
fn execute(shared: &Shared, request: tiny_http::Request, reply: Reply) {
    let peer = request.remote_addr().copied();
    match reply {
        Reply::Answer(answer) => {
            let _ = request.respond(response(answer));
        }
        Reply::Drop => {
            if let Some(peer) = peer {
                shared.relay.cut(peer);
            }
        }
        Reply::Hang => {
            shared.ctx.stopper.wait(MAX_HOLD);
            if let Some(peer) = peer {
                shared.relay.cut(peer);
            }
        }
        Reply::Stall(answer) => {
            let mut writer = request.into_writer();
            let _ = writer.write_all(&stalled_head(&answer));
            let _ = writer.flush();
            shared.ctx.stopper.wait(MAX_HOLD);
            if let Some(peer) = peer {
                shared.relay.cut(peer);
            }
        }
    }
}

fn record(shared: &Shared, call: Call, status: Option<u16>) {
    let at = shared.started.elapsed();
    if shared.ctx.config.log_requests {
        let outcome = status.map_or("no answer".to_string(), |s| s.to_string());
        eprintln!("demo_server: {} {} -> {outcome}", call.method, call.path);
    }
    lock(&shared.log).push(RecordedRequest {
        method: call.method,
        path: call.path,
        headers: call.headers,
        body: call.body,
        status,
        at,
    });
}

fn response(answer: Answer) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_data(answer.body).with_status_code(answer.status);
    let headers =
        std::iter::once(("Content-Type", answer.content_type.to_string())).chain(answer.headers);
    for (name, value) in headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}

/// The status line, headers and the first half of the body of `answer`.
fn stalled_head(answer: &Answer) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        answer.status,
        if answer.status == 200 { "OK" } else { "Error" },
        answer.content_type,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&answer.body[..answer.body.len() / 2]);
    bytes
}
