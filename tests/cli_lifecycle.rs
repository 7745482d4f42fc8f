//! `tinkex checkpoint publish|unpublish|set-ttl|delete` as a user runs them, against a
//! stateful local API: the requests and the catalog afterwards equal the official CLI's
//! (fixtures/lifecycle/golden), refusals send nothing at all, 409 is exit 0, partial
//! failures exit 4, and neither the key nor a hostile server's text leaks to the terminal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::lifecycle_api::{golden, LifecycleApi};
use crate::support::{tinkex, Outcome, KEY};

/// A server that answers `{}` to everything and counts every request, handshake included.
pub struct Counting {
    server: Arc<tiny_http::Server>,
    count: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Counting {
    /// Starts it on a free loopback port.
    pub fn start() -> Counting {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let (s, c) = (server.clone(), count.clone());
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                c.fetch_add(1, Ordering::SeqCst);
                let _ = req.respond(tiny_http::Response::from_string("{}"));
            }
        });
        Counting {
            server,
            count,
            thread: Some(thread),
        }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.server_addr().to_ip().unwrap())
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `args` against `url` with the test key.
fn run_at(url: &str, args: &[&str]) -> Outcome {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--base-url", url, "--api-key", KEY]);
    tinkex(&all).run()
}

fn sorted(requests: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = requests.iter().map(Value::to_string).collect();
    v.sort();
    v
}

fn argv(case: &str) -> Vec<String> {
    golden("lifecycle", case)["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Runs a golden case's argv (plus `extra`) and checks requests and catalog afterwards.
fn like_golden(case: &str, extra: &[&str]) -> Outcome {
    let api = LifecycleApi::start(None);
    let args = argv(case);
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(extra);
    let out = run_at(&api.url(), &all);
    let g = golden("lifecycle", case);
    assert_eq!(
        sorted(&api.requests()),
        sorted(g["requests"].as_array().unwrap()),
        "{case}: {out:?}"
    );
    assert_eq!(api.catalog(), g["catalog_after"], "{case}: catalog after");
    assert!(
        out.elapsed < Duration::from_secs(1),
        "{case} took {:?}",
        out.elapsed
    );
    out
}

#[test]
fn publish_unpublish_and_set_ttl_do_what_the_official_cli_does() {
    for case in ["publish", "unpublish", "set_ttl", "set_ttl_remove"] {
        let out = like_golden(case, &[]);
        assert_eq!(out.code, 0, "{case}: {out:?}");
        assert!(out.stdout.contains("tinker://run-a/"), "{case}: {out:?}");
    }
    let out = like_golden("publish", &["--json"]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        doc,
        json!({"changed": ["tinker://run-a/weights/000100"], "unchanged": [], "failed": []})
    );
}

#[test]
fn already_public_or_private_is_exit_0_after_one_request() {
    let api = LifecycleApi::start(None);
    let out = run_at(
        &api.url(),
        &["checkpoint", "publish", "tinker://run-a/weights/000200"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("already public"), "{out:?}");
    let out = run_at(
        &api.url(),
        &["checkpoint", "unpublish", "tinker://run-a/weights/000100"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("already private"), "{out:?}");
    assert_eq!(api.requests().len(), 2, "{:?}", api.requests());
}

#[test]
fn deletes_match_the_official_cli_and_print_its_document() {
    for case in [
        "delete_paths",
        "delete_run_all",
        "delete_run_after",
        "delete_run_type_before",
        "delete_run_window",
    ] {
        let out = like_golden(case, &["--json"]);
        assert_eq!(out.code, 0, "{case}: {out:?}");
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc, golden("lifecycle", case)["stdout"], "{case}");
    }
}

#[test]
fn a_partial_failure_is_listed_and_exits_4_after_the_rest() {
    let out = like_golden("delete_unknown", &["--json"]);
    assert_eq!(out.code, 4, "{out:?}");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["deleted_count"], 1);
    assert_eq!(
        doc["failed"][0]["tinker_path"],
        "tinker://run-a/weights/999999"
    );
    assert!(
        out.stderr.contains("tinker://run-a/weights/999999"),
        "{out:?}"
    );
    assert!(out.stderr.contains("1 of 2 checkpoints failed"), "{out:?}");
}

#[test]
fn a_lone_unknown_path_is_exit_2_and_a_refused_key_exit_3() {
    let api = LifecycleApi::start(None);
    for sub in ["publish", "unpublish"] {
        let out = run_at(
            &api.url(),
            &["checkpoint", sub, "tinker://run-a/weights/999999"],
        );
        assert_eq!(out.code, 2, "{sub}: {out:?}");
    }
    let out = run_at(
        &api.url(),
        &[
            "checkpoint",
            "delete",
            "-y",
            "tinker://run-a/weights/999999",
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    let a = "/api/v1/training_runs/run-a/checkpoints/weights/000100";
    let b = "/api/v1/training_runs/run-a/checkpoints/weights/000300";
    api.fail(a, 401, 10);
    api.fail(b, 401, 10);
    let out = run_at(
        &api.url(),
        &[
            "checkpoint",
            "delete",
            "--yes",
            "tinker://run-a/weights/000100",
            "tinker://run-a/weights/000300",
        ],
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(api.catalog().as_array().unwrap().len(), 9);
}

#[test]
fn every_refusal_exits_2_naming_the_flag_and_sends_nothing() {
    let server = Counting::start();
    let p = "tinker://run-a/weights/000100";
    let cases: &[(&[&str], &str)] = &[
        (&["checkpoint", "delete", p], "--yes"),
        (&["checkpoint", "delete", "--run-id", "run-a"], "--dry-run"),
        (&["checkpoint", "set-ttl", p, "--ttl", "60"], "--ttl"),
        (&["checkpoint", "set-ttl", p, "--ttl", "3651d"], "--ttl"),
        (&["checkpoint", "set-ttl", p, "--ttl", "soon"], "--ttl"),
        (&["checkpoint", "set-ttl", p], "--remove"),
        (
            &[
                "checkpoint",
                "delete",
                "-y",
                "--run-id",
                "r",
                "--before",
                "May 1",
            ],
            "--before",
        ),
        (
            &[
                "checkpoint",
                "delete",
                "-y",
                "--run-id",
                "r",
                "--after",
                "2026-13-01",
            ],
            "--after",
        ),
        (
            &[
                "checkpoint",
                "delete",
                "-y",
                "--run-id",
                "r",
                "--type",
                "lora",
            ],
            "--type",
        ),
        (
            &["checkpoint", "delete", "-y", "--keep-last", "3"],
            "--keep-last",
        ),
        (
            &["checkpoint", "delete", "-y", "--before", "2026-01-01", p],
            "--before",
        ),
        (
            &["checkpoint", "publish", "run-a/weights/1"],
            "checkpoint path",
        ),
        (&["checkpoint", "unpublish"], "checkpoint path"),
        (
            &["checkpoint", "delete", "-y", "tinker://run-a/lora/1"],
            "checkpoint path",
        ),
    ];
    for (args, named) in cases {
        // A "y" piped in is not a confirmation.
        let mut all: Vec<&str> = args.to_vec();
        let url = server.url();
        all.extend(["--base-url", &url, "--api-key", KEY]);
        let out = tinkex(&all).stdin(b"y\n").run();
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("tinkex: error: ") && first.contains(named),
            "{args:?}: {out:?}"
        );
    }
    assert_eq!(server.count(), 0, "a refusal sent a request");
}

#[test]
fn a_dry_run_lists_the_selection_and_deletes_nothing() {
    let api = LifecycleApi::start(None);
    let args = [
        "checkpoint",
        "delete",
        "--run-id",
        "run-a",
        "--type",
        "sampler_weights",
        "--keep-last",
        "1",
        "--dry-run",
    ];
    let out = run_at(&api.url(), &args);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "tinker://run-a/sampler_weights/000200\ntinker://run-a/sampler_weights/000300\n"
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = run_at(&api.url(), &json_args);
    assert_eq!(
        out.stdout,
        "{\"would_delete\": [\"tinker://run-a/sampler_weights/000200\", \"tinker://run-a/sampler_weights/000300\"]}\n"
    );
    assert!(api.requests().iter().all(|r| r["method"] == "GET"));
    assert_eq!(api.catalog().as_array().unwrap().len(), 9);
    // An empty selection deletes nothing and is not an error.
    let out = run_at(
        &api.url(),
        &["checkpoint", "delete", "-y", "--run-id", "run-z"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(api.catalog().as_array().unwrap().len(), 9);
}

#[test]
fn hostile_listings_cannot_steer_deletes_or_drive_the_terminal() {
    let catalog = json!([
        {"tinker_path": "tinker://run-x/weights/\u{1b}[31mred", "checkpoint_type": "training",
         "time": "2026-01-01T00:00:00Z", "public": false, "expires_at": null},
        {"tinker_path": "tinker://run-x/weights/../../run-a", "checkpoint_type": "training",
         "time": "2026-01-01T00:00:00Z", "public": false, "expires_at": null},
    ]);
    let api = LifecycleApi::start(Some(catalog));
    let out = run_at(
        &api.url(),
        &["checkpoint", "delete", "--run-id", "run-x", "--dry-run"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'),
        "{out:?}"
    );
    assert!(out.stdout.contains("\\u{1b}[31mred"), "{out:?}");
}

#[test]
fn the_key_never_appears_even_at_vvv() {
    let api = LifecycleApi::start(None);
    for args in [
        &[
            "checkpoint",
            "publish",
            "tinker://run-a/weights/000100",
            "-vvv",
        ][..],
        &["checkpoint", "delete", "-y", "--run-id", "run-b", "-vvv"][..],
        &[
            "checkpoint",
            "set-ttl",
            "tinker://run-a/weights/000100",
            "--ttl",
            "7d",
            "-vvv",
        ][..],
    ] {
        let out = run_at(&api.url(), args);
        assert_eq!(out.code, 0, "{out:?}");
        for window in KEY.as_bytes().windows(8) {
            let w = std::str::from_utf8(window).unwrap();
            assert!(
                !out.stderr.contains(w) && !out.stdout.contains(w),
                "{w}: {out:?}"
            );
        }
    }
}

/// The demo server's catalog is mutable: a delete leaves `checkpoint list`, publish is 409
/// when already public, and its billing endpoints serve usage (403 for the role-less key).
#[test]
fn the_demo_server_serves_the_lifecycle_and_billing() {
    use crate::demo::{DemoConfig, DemoServer};
    let server = DemoServer::start(DemoConfig::default()).expect("demo server starts");
    let url = server.url();
    let prune = [
        "checkpoint",
        "delete",
        "--run-id",
        "demo-run-1",
        "--type",
        "sampler_weights",
        "--keep-last",
        "3",
    ];
    let mut dry = prune.to_vec();
    dry.push("--dry-run");
    let out = run_at(&url, &dry);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 57, "{out:?}");
    let mut yes = prune.to_vec();
    yes.push("--yes");
    let out = run_at(&url, &yes);
    assert_eq!(out.code, 0, "{out:?}");
    let out = run_at(
        &url,
        &["checkpoint", "list", "--run-id", "demo-run-1", "--json"],
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["checkpoints"].as_array().unwrap().len(), 63, "{out:?}");
    let last = "tinker://demo-run-1/sampler_weights/000600";
    let out = run_at(&url, &["checkpoint", "publish", last]);
    assert!(
        out.code == 0 && out.stdout.contains("already public"),
        "{out:?}"
    );
    let out = run_at(&url, &["checkpoint", "unpublish", last]);
    assert!(
        out.code == 0 && out.stdout.contains("unpublished"),
        "{out:?}"
    );
    let out = run_at(&url, &["checkpoint", "set-ttl", last, "--ttl", "7d"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = run_at(&url, &["checkpoint", "info", last, "--json"]);
    assert!(out.stdout.contains("\"public\": false"), "{out:?}");
    let out = run_at(&url, &["billing", "usage", "--last", "24h"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Qwen/Qwen3-8B"), "{out:?}");
    let out = run_at(&url, &["billing", "checkpoint-storage", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let no_role = [
        "billing",
        "usage",
        "--last",
        "24h",
        "--base-url",
        &url,
        "--api-key",
        "tml-demo-no-billing-role",
    ];
    let out = tinkex(&no_role).run();
    assert_eq!(out.code, 3, "{out:?}");
}
