//! Sessions that name their job, checked on the wire: `--session-name` and `--meta` in the
//! create_session body of run, score and batches (a batch adds its input file's name, a shard
//! its shard), `TINKER_TAGS`/`TINKER_PROJECT_ID` beside them, refusals that send nothing, and
//! the token totals at the end of a batch.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli_score::score_args;
use crate::demo::{DemoConfig, DemoServer};
use crate::support::e2e::{run_args, Scratch};
use crate::support::{json_lines, Outcome};

const LIMIT: Duration = Duration::from_secs(120);

fn demo() -> DemoServer {
    DemoServer::start(DemoConfig::default()).unwrap()
}

/// The bodies of every create_session the server received.
fn sessions(server: &DemoServer) -> Vec<Value> {
    server
        .request_log()
        .iter()
        .filter(|r| r.path == "/api/v1/create_session")
        .map(|r| r.json().expect("a JSON body"))
        .collect()
}

/// The one create_session body: its `display_name` (null when absent) and `user_metadata`.
fn named(server: &DemoServer) -> (Value, Value) {
    let bodies = sessions(server);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    (
        body.get("display_name").cloned().unwrap_or(Value::Null),
        body["user_metadata"].clone(),
    )
}

/// `run --tokens-only` against `server` with `extra` (no tokenizer needed).
fn run(server: &DemoServer, scratch: &Scratch, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut flags = vec![
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--max-tokens",
        "3",
    ];
    flags.extend_from_slice(extra);
    scratch.run_env(&run_args(&server.url(), &flags), env, LIMIT)
}

#[test]
fn a_single_run_sends_its_name_and_metadata_beside_tags_and_project() {
    let server = demo();
    let scratch = Scratch::new();
    let prompt = scratch.file("p.json", "[9707, 11]");
    let flags = [
        "--prompt-file",
        &prompt,
        "--session-name",
        "nightly \"eval\"",
        "--meta",
        "job=eval",
        "--meta",
        "owner=ml=team",
    ];
    let env = [("TINKER_TAGS", "a,b"), ("TINKER_PROJECT_ID", "p1")];
    let out = run(&server, &scratch, &flags, &env);
    assert_eq!(out.code, 0, "{out:?}");
    let body = &sessions(&server)[0];
    assert_eq!(body["display_name"], "nightly \"eval\"");
    assert_eq!(
        body["user_metadata"],
        json!({"job": "eval", "owner": "ml=team"})
    );
    assert_eq!(body["tags"], json!(["a", "b"]));
    assert_eq!(body["project_id"], "p1");
}

#[test]
fn without_the_flags_the_session_is_unnamed_as_before() {
    let server = demo();
    let scratch = Scratch::new();
    let prompt = scratch.file("p.json", "[9707]");
    let out = run(&server, &scratch, &["--prompt-file", &prompt], &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let body = &sessions(&server)[0];
    assert!(body.get("display_name").is_none(), "{body}");
    assert_eq!(body["user_metadata"], json!({}));
}

#[test]
fn a_sharded_batch_records_its_input_and_shard_and_counts_its_tokens() {
    let server = demo();
    let scratch = Scratch::new();
    let lines: Vec<String> = (1..=7)
        .map(|n| format!(r#"{{"id": {n}, "tokens": [9707, {n}], "num_samples": 2}}"#))
        .collect();
    let input = scratch.file("nightly.jsonl", &(lines.join("\n") + "\n"));
    let flags = [
        "--input",
        &input,
        "--shard",
        "2/3",
        "--session-name",
        "nightly",
        "--meta",
        "job=x",
    ];
    let out = run(&server, &scratch, &flags, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let (name, meta) = named(&server);
    assert_eq!(name, "nightly");
    assert_eq!(
        meta,
        json!({"job": "x", "input": "nightly.jsonl", "shard": "2/3"})
    );
    // Lines 2 and 5 are shard 2/3's: the totals are what the output lines hold.
    let results = json_lines(&out.stdout);
    assert_eq!(results.len(), 2, "{}", out.stdout);
    let prompt: u64 = results
        .iter()
        .map(|l| l["prompt_tokens"].as_u64().unwrap())
        .sum();
    let sampled: usize = results
        .iter()
        .flat_map(|l| l["sequences"].as_array().unwrap())
        .map(|s| s["tokens"].as_array().unwrap().len())
        .sum();
    assert_eq!(prompt, 4);
    assert!(sampled >= 4, "two lines of two samples: {}", out.stdout);
    let summary = format!("sent {prompt} prompt tokens, received {sampled} sampled tokens\n");
    assert!(
        out.stderr.starts_with("tinkex: shard 2/3: 2/2 ok in ") && out.stderr.ends_with(&summary),
        "{}",
        out.stderr
    );
}

#[test]
fn shard_auto_records_the_shard_it_resolved_and_a_users_key_wins() {
    let server = demo();
    let scratch = Scratch::new();
    let input = scratch.file("in.jsonl", "{\"tokens\": [1]}\n{\"tokens\": [2]}\n");
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
    ];
    let flags = [
        "--input",
        &input,
        "--shard",
        "auto",
        "--meta",
        "input=mine",
        "-q",
    ];
    let out = run(&server, &scratch, &flags, &slurm);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        named(&server),
        (Value::Null, json!({"input": "mine", "shard": "2/2"}))
    );
}

#[test]
fn score_single_and_batch_name_their_sessions() {
    let server = demo();
    let scratch = Scratch::new();
    let single = [
        "--context",
        "Hello",
        "--continuation",
        " world",
        "--session-name",
        "scoring",
        "--meta",
        "k=v",
    ];
    let out = scratch.run(&score_args(&server.url(), &single), LIMIT);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(named(&server), (json!("scoring"), json!({"k": "v"})));

    let server = demo();
    let input = scratch.file(
        "items.jsonl",
        "{\"context\": \"Hello\", \"continuation\": \" world\"}\n{\"context\": \"A\", \"choices\": [\" b\", \" c\"]}\n",
    );
    let batch = ["--input", &input, "--shard", "1/1", "--meta", "k=v"];
    let out = scratch.run(&score_args(&server.url(), &batch), LIMIT);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        named(&server),
        (
            Value::Null,
            json!({"k": "v", "input": "items.jsonl", "shard": "1/1"})
        )
    );
}

#[test]
fn a_score_batch_counts_every_scoring_request() {
    let server = demo();
    let scratch = Scratch::new();
    let input = scratch.file(
        "items.jsonl",
        "{\"context\": \"Hello\", \"continuation\": \" world\"}\n{\"context\": \"A\", \"choices\": [\" b\", \" c\"]}\n",
    );
    let mut args = score_args(&server.url(), &["--input", &input]);
    args.retain(|a| a != "-q");
    let out = scratch.run(&args, LIMIT);
    assert_eq!(out.code, 0, "{out:?}");
    // Each continuation is one request sending the context and itself.
    let prompt: u64 = json_lines(&out.stdout)
        .iter()
        .map(|line| {
            let context = line["context_tokens"].as_u64().unwrap();
            let results = line["results"].as_array().unwrap();
            let own: u64 = results
                .iter()
                .map(|r| r["tokens"].as_array().unwrap().len() as u64)
                .sum();
            context * results.len() as u64 + own
        })
        .sum();
    let requests = server
        .request_log()
        .iter()
        .filter(|r| r.path == "/api/v1/asample")
        .count();
    assert_eq!(requests, 3);
    let words = format!("sent {prompt} prompt tokens, received ");
    assert!(
        out.stderr.starts_with("tinkex: 2/2 ok in ") && out.stderr.contains(&words),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_session_flags_exit_2_naming_the_flag_and_send_nothing() {
    let server = demo();
    let scratch = Scratch::new();
    let prompt = scratch.file("p.json", "[1]");
    let long_value = format!("k={}", "v".repeat(1025));
    let cases: [(&[&str], &str); 5] = [
        (
            &["--meta", "novalue"],
            "--meta expects KEY=VALUE, got 'novalue'",
        ),
        (&["--meta", "=v"], "--meta: the key before '=' is empty"),
        (
            &["--meta", "a=1", "--meta", "a=2"],
            "--meta: key 'a' is given twice",
        ),
        (
            &["--meta", &long_value],
            "--meta: the value of 'k' is 1025 bytes long, at most 1024",
        ),
        (&["--session-name", ""], "--session-name is empty"),
    ];
    for (flags, message) in cases {
        let mut all = vec!["--prompt-file", &prompt];
        all.extend_from_slice(flags);
        let out = run(&server, &scratch, &all, &[]);
        assert_eq!(out.code, 2, "{flags:?}: {out:?}");
        assert!(
            out.stderr.starts_with(&format!("tinkex: error: {message}")),
            "{out:?}"
        );
        let mut score = vec!["--context", "a", "--continuation", " b"];
        score.extend_from_slice(flags);
        let out = scratch.run(&score_args(&server.url(), &score), LIMIT);
        assert_eq!(out.code, 2, "score {flags:?}: {out:?}");
        assert!(out.stderr.contains(message), "{out:?}");
    }
    assert!(server.request_log().is_empty(), "a refusal sends nothing");
}
