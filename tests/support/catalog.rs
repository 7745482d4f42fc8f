//! A mock Tinker API for the read commands: answers from fixtures/catalog/answers.json (as
//! tools/gen_catalog_goldens.py serves them to the official CLI), recording every GET.

use std::sync::{Arc, Mutex};

use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::{json, Value};

use super::fixture;

/// The answers the goldens were made from.
pub fn answers() -> Value {
    let text = std::fs::read_to_string(fixture("catalog/answers.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A golden file from fixtures/catalog/golden/.
pub fn golden(name: &str) -> Value {
    let path = fixture(&format!("catalog/golden/{name}"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A mockito server speaking the read endpoints.
pub struct CatalogApi {
    /// The server.
    pub server: ServerGuard,
    log: Arc<Mutex<Vec<String>>>,
    mocks: Vec<Mock>,
}

impl CatalogApi {
    /// A server whose `client/config` answers `{}`; add failures, then [`CatalogApi::serve`].
    pub fn new() -> CatalogApi {
        let mut server = Server::new();
        let config = server
            .mock("POST", "/api/v1/client/config")
            .with_header("content-type", "application/json")
            .with_body("{}")
            .expect_at_least(0)
            .create();
        CatalogApi {
            server,
            log: Arc::default(),
            mocks: vec![config],
        }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The first `times` GETs of `path` (query ignored) answer `status` with `body`.
    pub fn fail(mut self, path: &str, status: usize, body: &str, times: usize) -> CatalogApi {
        let log = Arc::clone(&self.log);
        let body = body.to_string();
        let mock = self
            .server
            .mock("GET", path)
            .match_query(Matcher::Any)
            .with_status(status)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |req| {
                log.lock().unwrap().push(req.path_and_query().to_string());
                body.clone().into_bytes()
            })
            .expect(times)
            .create();
        self.mocks.push(mock);
        self
    }

    /// Answers every other GET from `data` (shaped like answers.json), paging lists by
    /// their `limit`/`offset`.
    pub fn serve(mut self, data: Value) -> CatalogApi {
        let log = Arc::clone(&self.log);
        let mock = self
            .server
            .mock("GET", Matcher::Regex("^/api/v1/".into()))
            .match_query(Matcher::Any)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |req| {
                let target = req.path_and_query().to_string();
                log.lock().unwrap().push(target.clone());
                respond(&data, &target).to_string().into_bytes()
            })
            .expect_at_least(0)
            .create();
        self.mocks.push(mock);
        self
    }

    /// Path and query of every GET, in arrival order.
    pub fn gets(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// What the fake server answers to `target` (path and query).
fn respond(data: &Value, target: &str) -> Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |key: &str, default: usize| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{key}=")))
            .map_or(default, |v| v.parse().unwrap())
    };
    let path = path.trim_start_matches("/api/v1/");
    if path == "get_server_capabilities" {
        return json!({ "supported_models": data["supported_models"] });
    }
    if path == "training_runs" || path == "checkpoints" {
        let items = data[path].as_array().unwrap();
        let (limit, offset) = (param("limit", 20), param("offset", 0));
        let page: Vec<&Value> = items.iter().skip(offset).take(limit).collect();
        let cursor = json!({"offset": offset, "limit": limit, "total_count": items.len()});
        return json!({ path: page, "cursor": cursor });
    }
    let rest = path.trim_start_matches("training_runs/");
    let (run_id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let run = data["training_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["training_run_id"] == run_id)
        .cloned()
        .unwrap_or(Value::Null);
    if tail == "checkpoints" {
        let prefix = format!("tinker://{run_id}/");
        let mine: Vec<&Value> = data["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["tinker_path"].as_str().unwrap().starts_with(&prefix))
            .collect();
        return json!({ "checkpoints": mine, "cursor": null });
    }
    run
}

/// `n` generated training runs or checkpoints (`kind` = `training_runs` | `checkpoints`).
pub fn many(kind: &str, n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| match kind {
            "training_runs" => json!({
                "training_run_id": format!("run-{i:04}"),
                "base_model": "Qwen/Qwen3-8B",
                "model_owner": "user:test",
                "is_lora": true,
                "lora_rank": 8,
                "last_request_time": "2026-11-24T17:50:12Z",
            }),
            _ => json!({
                "checkpoint_id": format!("weights/{i:06}"),
                "checkpoint_type": "training",
                "time": "2026-11-24T17:50:12Z",
                "tinker_path": format!("tinker://run-1/weights/{i:06}"),
            }),
        })
        .collect();
    json!({ kind: items })
}

/// Whether `ours` has the content of the official CLI's `golden`: the same keys in the same
/// order, equal values, timestamps equal as instants (the SDK prints Python datetimes).
pub fn same_content(ours: &Value, golden: &Value, at: &str) {
    match (ours, golden) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            assert_eq!(ka, kb, "keys at {at}");
            for (k, v) in a {
                same_content(v, &b[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "length at {at}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same_content(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::String(a), Value::String(b)) if a != b => {
            let instant = |s: &str| {
                s.replacen(' ', "T", 1)
                    .parse::<jiff::Timestamp>()
                    .unwrap_or_else(|e| panic!("{at}: '{s}' differs and is no timestamp: {e}"))
            };
            assert_eq!(instant(a), instant(b), "timestamp at {at}");
        }
        _ => assert_eq!(ours, golden, "value at {at}"),
    }
}
