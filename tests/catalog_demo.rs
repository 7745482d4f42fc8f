//! The read commands against the in-process demo server and its built-in catalog.

use serde_json::Value;

use crate::demo::{DemoConfig, DemoServer};
use crate::support::{tinkex, Outcome};

fn demo(config: DemoConfig) -> DemoServer {
    DemoServer::start(config).expect("demo server starts")
}

fn read(server: &DemoServer, args: &[&str]) -> Outcome {
    let url = server.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--base-url", &url, "--timeout", "20"]);
    tinkex(&all).env("TINKER_API_KEY", "tml-demo").run()
}

fn gets(server: &DemoServer) -> Vec<String> {
    server
        .request_log()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect()
}

#[test]
fn models_and_checkpoints_from_the_built_in_catalog() {
    let server = demo(DemoConfig::default());
    let out = read(&server, &["model", "list", "QWEN"]);
    let table = "\
Model                             Max Context  Trainable  Sampleable
Qwen/Qwen3-8B                     32768        Yes        Yes
Qwen/Qwen3-30B-A3B-Instruct-2507  32768        Yes        Yes
";
    assert_eq!(out.parts(), (0, table, ""));

    let out = read(&server, &["checkpoint", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 21);
    assert_eq!(
        out.stderr,
        "tinkex: showing 20 of 300 checkpoints; --limit N shows more, --limit 0 all\n"
    );
    let out = read(&server, &["checkpoint", "list", "--limit", "0", "--json"]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let all = doc["checkpoints"].as_array().unwrap();
    assert_eq!(all.len(), 300);
    assert!(all.iter().all(|c| c["tinker_path"]
        .as_str()
        .unwrap()
        .starts_with("tinker://demo-run-")));
    assert_eq!(
        gets(&server)[1..],
        [
            "/api/v1/checkpoints?limit=20&offset=0",
            "/api/v1/checkpoints?limit=1000&offset=0"
        ]
    );
}

#[test]
fn runs_and_checkpoint_info_with_jwt_auth() {
    let server = demo(DemoConfig {
        jwt: true,
        ..DemoConfig::default()
    });
    let out = read(&server, &["training-run", "list", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["training_run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["demo-run-3", "demo-run-2", "demo-run-1"]);
    let out = read(
        &server,
        &[
            "checkpoint",
            "info",
            "tinker://demo-run-2/sampler_weights/000500",
            "--json",
        ],
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["size_bytes"], 16_060_522_496u64);
    assert_eq!(
        (doc["is_lora"].clone(), doc["lora_rank"].clone()),
        (false.into(), Value::Null)
    );
    let out = read(&server, &["training-run", "info", "demo-run-9"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out
        .stderr
        .contains("\"Training run not found: demo-run-9\""));
}

#[test]
fn auth_status_names_the_source_never_the_key() {
    let server = demo(DemoConfig {
        require_key: Some("tml-demo".into()),
        ..DemoConfig::default()
    });
    let out = read(&server, &["auth", "status"]);
    let line = format!(
        "The credential from TINKER_API_KEY works: {} accepted it.\n",
        server.url()
    );
    assert_eq!(out.parts(), (0, line.as_str(), ""));
    let url = server.url();
    let out = tinkex(&[
        "auth",
        "status",
        "--base-url",
        &url,
        "--api-key",
        "tml-wrong-key",
    ])
    .run();
    assert_eq!(out.code, 3, "{out:?}");
    assert!(!out.stderr.contains("tml-wrong-key"), "{out:?}");
    let caps = server
        .request_log()
        .iter()
        .filter(|r| r.path == "/api/v1/get_server_capabilities")
        .count();
    assert_eq!(
        caps,
        1,
        "the refused key never got past client/config? {:?}",
        gets(&server)
    );
}
