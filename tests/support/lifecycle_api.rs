//! A stateful local API for the lifecycle and billing goldens: serves
//! fixtures/lifecycle/answers.json (a mutable catalog) and fixtures/billing/answers.json the
//! way tools/gen_lifecycle_billing_goldens.py serves them to the official CLI, and records
//! each request as that script does (method, path, query, JSON body).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{json, Value};

use super::fixture;

/// The key the server answers 403 on the billing endpoints.
pub const NO_ROLE_KEY: &str = "tml-golden-no-billing-role";

/// A golden record from fixtures/<area>/golden/<case>.json.
pub fn golden(area: &str, case: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{area}/golden/{case}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A golden file's bytes (CSV, verbatim stdout).
pub fn golden_text(area: &str, file: &str) -> String {
    std::fs::read_to_string(fixture(&format!("{area}/golden/{file}"))).unwrap()
}

struct State {
    checkpoints: Vec<Value>,
    billing: Value,
    log: Vec<Value>,
    /// Paths whose next requests fail with this status, that many times.
    faults: BTreeMap<String, (u16, usize)>,
}

/// The running server; stops when dropped.
pub struct LifecycleApi {
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

impl LifecycleApi {
    /// Serves the fixture catalog with `checkpoints` replacing it when given.
    pub fn start(checkpoints: Option<Value>) -> LifecycleApi {
        let read = |p: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(fixture(p)).unwrap()).unwrap()
        };
        let catalog =
            checkpoints.unwrap_or_else(|| read("lifecycle/answers.json")["checkpoints"].clone());
        let state = Arc::new(Mutex::new(State {
            checkpoints: catalog.as_array().unwrap().clone(),
            billing: read("billing/answers.json"),
            log: Vec::new(),
            faults: BTreeMap::new(),
        }));
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let (s, st) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
                let key = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("X-API-Key"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let method = req.method().to_string();
                let (status, answer) = handle(&st, &method, req.url(), &body, &key);
                let mut resp = tiny_http::Response::from_string(answer).with_status_code(status);
                resp.add_header(
                    tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                );
                let _ = req.respond(resp);
            }
        });
        LifecycleApi {
            server,
            state,
            thread: Some(thread),
        }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.server_addr().to_ip().unwrap())
    }

    /// Requests so far, the handshake left out.
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().log.clone()
    }

    /// Every request from now on to `path` answers `status`, `times` times.
    pub fn fail(&self, path: &str, status: u16, times: usize) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(path.to_string(), (status, times));
    }

    /// `tinker_path`, `public`, `expires_at` of each checkpoint, as the goldens record them.
    pub fn catalog(&self) -> Value {
        let st = self.state.lock().unwrap();
        Value::Array(
            st.checkpoints
                .iter()
                .map(|c| json!({"tinker_path": c["tinker_path"], "public": c["public"], "expires_at": c["expires_at"]}))
                .collect(),
        )
    }
}

impl Drop for LifecycleApi {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode(text: &str) -> String {
    let b = text.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(st: &Mutex<State>, method: &str, url: &str, body: &[u8], key: &str) -> (u16, String) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if path == "/api/v1/client/config" {
        return (200, "{}".into());
    }
    let mut q = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        q.insert(decode(k), json!([decode(v)]));
    }
    let body_json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut st = st.lock().unwrap();
    st.log
        .push(json!({"method": method, "path": path, "query": q, "body": body_json}));
    if let Some((status, times)) = st.faults.get_mut(path) {
        if *times > 0 {
            *times -= 1;
            return (
                *status,
                json!({"detail": format!("injected {status}")}).to_string(),
            );
        }
    }
    let reply = |s: u16, v: Value| {
        (
            s,
            if v.is_null() {
                String::new()
            } else {
                v.to_string()
            },
        )
    };
    if let Some(rest) = path.strip_prefix("/api/v1/billing/") {
        if key == NO_ROLE_KEY {
            return reply(
                403,
                json!({"detail": "Billing access requires the admin role"}),
            );
        }
        return match rest {
            "usage/events" => {
                let start = q
                    .get("starting_on")
                    .and_then(|v| v[0].as_str())
                    .unwrap_or("");
                let which = if start.starts_with("2026-07-13") {
                    "usage"
                } else {
                    "usage_empty"
                };
                reply(200, st.billing[which].clone())
            }
            "usage/checkpoints/current" => reply(200, st.billing["storage"].clone()),
            _ => reply(404, json!({"detail": "Not Found"})),
        };
    }
    let parts: Vec<String> = path
        .trim_start_matches("/api/v1/")
        .split('/')
        .map(decode)
        .collect();
    if parts.len() < 3 || parts[0] != "training_runs" || parts[2] != "checkpoints" {
        return reply(404, json!({"detail": "Not Found"}));
    }
    let run = &parts[1];
    if parts.len() == 3 && method == "GET" {
        let prefix = format!("tinker://{run}/");
        let mine: Vec<Value> = st
            .checkpoints
            .iter()
            .filter(|c| c["tinker_path"].as_str().unwrap_or("").starts_with(&prefix))
            .cloned()
            .collect();
        return reply(200, json!({"checkpoints": mine, "cursor": null}));
    }
    if parts.len() < 5 {
        return reply(404, json!({"detail": "Not Found"}));
    }
    let tp = format!("tinker://{run}/{}/{}", parts[3], parts[4]);
    let Some(i) = st
        .checkpoints
        .iter()
        .position(|c| c["tinker_path"] == tp.as_str())
    else {
        return reply(
            404,
            json!({"detail": format!("Checkpoint not found: {run}/{}/{}", parts[3], parts[4])}),
        );
    };
    match (&parts[5..], method) {
        ([], "DELETE") => {
            st.checkpoints.remove(i);
            reply(204, Value::Null)
        }
        ([a], "POST" | "DELETE") if a == "publish" => {
            let want = method == "POST";
            if st.checkpoints[i]["public"] == want {
                let what = if want { "public" } else { "private" };
                return reply(
                    409,
                    json!({"detail": format!("Checkpoint is already {what}")}),
                );
            }
            st.checkpoints[i]["public"] = json!(want);
            reply(204, Value::Null)
        }
        ([a], "PUT") if a == "ttl" => {
            let ttl = body_json["ttl_seconds"].as_u64();
            if ttl.is_some_and(|t| !(3600..=3650 * 86400).contains(&t)) {
                return reply(
                    400,
                    json!({"detail": "TTL must be between 1 hour and 10 years"}),
                );
            }
            st.checkpoints[i]["expires_at"] = ttl.map_or(Value::Null, |t| json!(format!("+{t}s")));
            reply(204, Value::Null)
        }
        _ => reply(405, json!({"detail": "Method Not Allowed"})),
    }
}
