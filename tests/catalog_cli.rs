//! The read commands as the built binary runs them against a mock API: --json documents
//! equal to the official CLI's goldens, the GETs it sends, exact tables, errors and exit codes.

use serde_json::Value;

use crate::support::catalog::{answers, golden, same_content, CatalogApi};
use crate::support::{tinkex, Outcome, KEY};

/// Runs `args` against `api` with the key given as a flag.
fn read(api: &CatalogApi, args: &[&str]) -> Outcome {
    let url = api.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--base-url", &url, "--api-key", KEY]);
    tinkex(&all).run()
}

#[test]
fn json_documents_equal_the_official_clis() {
    let recorded = golden("requests.json");
    let cases = recorded.as_object().unwrap();
    assert_eq!(cases.len(), 11);
    for (name, case) in cases {
        let api = CatalogApi::new().serve(answers());
        // The official CLI's `run` is tinkex's `training-run` (`run` samples).
        let mut args: Vec<&str> = case["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .map(|a| if a == "run" { "training-run" } else { a })
            .collect();
        args.extend_from_slice(&["--json", "-q"]);
        let out = read(&api, &args);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{name}: {out:?}");
        let ours: Value = serde_json::from_str(&out.stdout).unwrap();
        same_content(&ours, &golden(&format!("{name}.json")), name);
        let official: Vec<String> = case["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[0] == "GET")
            .map(|r| r[1].as_str().unwrap().to_string())
            .collect();
        assert_eq!(api.gets(), official, "{name}");
    }
}

#[test]
fn model_table() {
    let api = CatalogApi::new().serve(answers());
    let out = read(&api, &["model", "list"]);
    let table = "\
Model                               Max Context  Trainable  Sampleable
Qwen/Qwen3-8B                       32768        Yes        Yes
Qwen/Qwen3-235B-A22B-Instruct-2507  262144       Yes        No
meta-llama/Llama-3.3-70B-Instruct   131072       No         Yes
openai/gpt-oss-20b                  -            -          -
QWEN-Lowercase/Tiny                 4096         -          Yes
";
    assert_eq!(out.parts(), (0, table, ""));
    let out = read(&api, &["model", "list", "qwen3"]);
    let table = "\
Model                               Max Context  Trainable  Sampleable
Qwen/Qwen3-8B                       32768        Yes        Yes
Qwen/Qwen3-235B-A22B-Instruct-2507  262144       Yes        No
";
    assert_eq!(out.parts(), (0, table, ""));
}

#[test]
fn training_run_table_and_info() {
    let api = CatalogApi::new().serve(answers());
    let out = read(&api, &["training-run", "list"]);
    let table = "\
Run ID      Base Model                        Owner       LoRA     Last Update                Status  Last Checkpoint
run-lora    Qwen/Qwen3-8B                     user:alice  Rank 32  2026-11-24T17:50:12.500Z   OK      weights/000500
run-full    meta-llama/Llama-3.1-8B-Instruct  user:alice  No       2026-11-23T09:00:00+00:00  Failed  -
run-sparse  Qwen/Qwen3-30B-A3B                user:bob    Yes      2026-11-20T00:00:00Z       OK      -
";
    assert_eq!(out.parts(), (0, table, ""));
    let out = read(&api, &["training-run", "info", "run-lora"]);
    let info = "\
Run ID                    run-lora
Base Model                Qwen/Qwen3-8B
Owner                     user:alice
LoRA                      Yes (Rank 32)
Last Update               2026-11-24T17:50:12.500Z
Status                    OK
Last Training Checkpoint  weights/000500
  - Time                  2026-11-24T17:40:00Z
  - Path                  tinker://run-lora/weights/000500
Last Sampler Checkpoint   sampler_weights/final
  - Time                  2026-11-24T17:45:30.123456Z
  - Path                  tinker://run-lora/sampler_weights/final
Metadata
  - experiment            rl-math
  - seed                  7
";
    assert_eq!(out.parts(), (0, info, ""));
}

#[test]
fn checkpoint_tables_and_the_note_on_stderr() {
    let api = CatalogApi::new().serve(answers());
    let out = read(&api, &["checkpoint", "list", "--limit", "3"]);
    let table = "\
Checkpoint              Type      Size      Public  Created                      Path
sampler_weights/final   sampler   168.0 MB  Yes     2026-11-24T17:45:30.123456Z  tinker://run-lora/sampler_weights/final
weights/000500          training  504.0 MB  No      2026-11-24T17:40:00Z         tinker://run-lora/weights/000500
sampler_weights/000100  sampler   15.0 GB   No      2026-11-23T08:59:59.9Z       tinker://run-full/sampler_weights/000100
";
    let note = "tinkex: showing 3 of 5 checkpoints; --limit N shows more, --limit 0 all\n";
    assert_eq!(out.parts(), (0, table, note));
    assert_eq!(api.gets(), ["/api/v1/checkpoints?limit=3&offset=0"]);
    let out = read(&api, &["checkpoint", "list", "--limit", "3", "-q"]);
    assert_eq!(out.parts(), (0, table, ""));
    let out = read(&api, &["checkpoint", "list", "--run-id", "run-sparse"]);
    let table = "\
Checkpoint                 Type      Size    Public  Created               Path
external_weights/imported  external  -       No      2026-11-22T12:00:00Z  tinker://run-sparse/external_weights/imported
weights/000001             training  1023 B  No      2026-11-20T00:00:00Z  tinker://run-sparse/weights/000001
";
    assert_eq!(out.parts(), (0, table, ""));
    let out = read(
        &api,
        &["checkpoint", "info", "tinker://run-sparse/weights/000001"],
    );
    let info = "\
Checkpoint ID    weights/000001
Type             training
Tinker Path      tinker://run-sparse/weights/000001
Size             1023 B
Public           No
Created          2026-11-20T00:00:00Z
Expires          Never
Training Run ID  run-sparse
LoRA             Yes
";
    assert_eq!(out.parts(), (0, info, ""));
}

#[test]
fn unknown_fields_are_kept_in_json_and_ignored_in_tables() {
    let mut data = answers();
    data["supported_models"][0]["family"] = serde_json::json!({"name": "qwen3"});
    let api = CatalogApi::new().serve(data);
    let out = read(&api, &["model", "list", "--json"]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let first = doc["models"][0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    let expected = [
        "model_name",
        "max_context_length",
        "trainable",
        "sampleable",
        "family",
    ];
    assert_eq!(keys, expected);
    assert_eq!(first["family"]["name"], "qwen3");
    assert_eq!(read(&api, &["model", "list"]).stdout.lines().count(), 6);
}

#[test]
fn a_missing_run_or_checkpoint_is_a_user_error_quoting_the_server() {
    let detail = r#"{"detail":"Training run not found: nope"}"#;
    let api = CatalogApi::new()
        .fail("/api/v1/training_runs/nope", 404, detail, 1)
        .fail("/api/v1/training_runs/nope/checkpoints", 404, detail, 1);
    let out = read(&api, &["training-run", "info", "nope"]);
    let message = "tinkex: error: fetching training run nope failed: the server answered \
                   HTTP 404: \"Training run not found: nope\"\n";
    assert_eq!(out.parts(), (2, "", message));
    let out = read(&api, &["checkpoint", "info", "tinker://nope/weights/1"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("Training run not found: nope"),
        "{out:?}"
    );

    let api = CatalogApi::new().serve(answers());
    let out = read(&api, &["checkpoint", "info", "tinker://run-lora/weights/9"]);
    let message = "tinkex: error: checkpoint not found: tinker://run-lora/weights/9\n\
                   tinkex: hint: run 'tinkex checkpoint list --run-id run-lora' for the run's \
                   checkpoints\n";
    assert_eq!(out.parts(), (2, "", message));
    let out = read(&api, &["model", "list", "mistral"]);
    let message = "tinkex: error: no model name contains 'mistral'\n\
                   tinkex: hint: run 'tinkex model list' to see every model\n";
    assert_eq!(out.parts(), (2, "", message));
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let api = CatalogApi::new().serve(answers());
    let out = read(&api, &["checkpoint", "info", "run-1/weights/x"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out
        .stderr
        .starts_with("tinkex: error: invalid checkpoint path 'run-1/weights/x'\n"));
    let out = read(&api, &["training-run", "info", " "]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = read(&api, &["checkpoint", "list", "--limit", "-1"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--limit"), "{out:?}");
    let out = read(&api, &["model", "list", "-q", "-v"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(api.gets().is_empty());
}

#[test]
fn refused_credentials_are_auth_errors() {
    let api = CatalogApi::new().fail(
        "/api/v1/get_server_capabilities",
        401,
        r#"{"detail":"Invalid API key"}"#,
        1,
    );
    let out = read(&api, &["model", "list"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("\"Invalid API key\""), "{out:?}");
    assert!(!out.stderr.contains(KEY));
    let out = tinkex(&["checkpoint", "list", "--base-url", &api.url()]).run();
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.starts_with("tinkex: error: no API key found\n"));
}

#[test]
fn server_errors_are_retried_then_reported() {
    let api = CatalogApi::new()
        .fail("/api/v1/training_runs", 503, r#"{"detail":"busy"}"#, 2)
        .serve(answers());
    let out = read(&api, &["training-run", "list", "--limit", "1"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 2);
    assert_eq!(api.gets().len(), 3);
    let api = CatalogApi::new().fail("/api/v1/checkpoints", 500, r#"{"detail":"db down"}"#, 11);
    let out = read(&api, &["checkpoint", "list"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("\"db down\""), "{out:?}");
    assert_eq!(api.gets().len(), 11);
}

#[test]
fn auth_status_says_plainly_when_billing_is_not_set_up() {
    let api = CatalogApi::new().fail(
        "/api/v1/get_server_capabilities",
        402,
        r#"{"detail":"Billing not configured"}"#,
        3,
    );
    let out = read(&api, &["auth", "status"]);
    let message = "tinkex: error: the server accepted the credential, but billing is not set \
                   up for this account (HTTP 402): \"Billing not configured\"\n\
                   tinkex: hint: set up billing for the account in the Tinker console\n";
    assert_eq!(out.parts(), (3, "", message));
    assert_eq!(api.gets().len(), 1);
    let api = CatalogApi::new().serve(answers());
    let out = tinkex(&["auth", "status", "--base-url", &api.url()])
        .env("TINKER_API_KEY", KEY)
        .run();
    let line = format!(
        "The credential from TINKER_API_KEY works: {} accepted it.\n",
        api.url()
    );
    assert_eq!(out.parts(), (0, line.as_str(), ""));
}
