//! Batch mode end to end: the built binary, a JSONL input, and a mock API answering per prompt.

use std::path::Path;
use std::time::{Duration, Instant};

use mockito::Matcher;
use serde_json::{json, Value};

use crate::support::{json_lines, tinkex_at, write_input, MockTinker};

/// Answers prompt `[n]` with request id `req-n`, and `req-n` with one sequence `[n * 10]`.
fn answer_by_prompt(api: &mut MockTinker, prompts: &[u32]) {
    for &n in prompts {
        let prompt = Matcher::PartialJson(json!({"prompt": {"chunks": [{"tokens": [n]}]}}));
        let result = json!({"sequences": [{"tokens": [n * 10], "logprobs": [-1.0], "stop_reason": "length"}]});
        api.route(prompt, &format!("req-{n}"), &result.to_string(), None);
    }
}

/// `--base-model m --tokens-only --input INPUT --output OUTPUT`, then `extra`.
fn batch_args<'a>(input: &'a str, output: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let args = [
        "--base-model",
        "m",
        "--tokens-only",
        "--input",
        input,
        "--output",
        output,
    ];
    args.iter().chain(extra).copied().collect()
}

fn read_lines(path: &Path) -> Vec<Value> {
    crate::support::without_input_hash(json_lines(&std::fs::read_to_string(path).unwrap()))
}

#[test]
fn lines_come_out_in_input_order_with_ids_and_line_numbers() {
    let mut api = MockTinker::new();
    answer_by_prompt(&mut api, &[1, 2, 3]);
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &[
            r#"{"id": "a", "tokens": [1]}"#,
            "",
            r#"{"tokens": [2], "max_tokens": 4}"#,
            r#"{"id": 9, "tokens": [3]}"#,
        ],
    );
    let output = dir.path().join("out.jsonl");
    let output_arg = output.display().to_string();
    let out = api
        .tinkex(&batch_args(&input, &output_arg, &["--parallel", "3"]))
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with("tinkex: 3/3 ok in "),
        "{}",
        out.stderr
    );
    let lines = read_lines(&output);
    let expected = [
        json!({"id": "a", "line": 1, "prompt_tokens": 1, "sequences": [{"tokens": [10], "logprobs": [-1.0], "stop_reason": "length"}]}),
        json!({"id": 3, "line": 3, "prompt_tokens": 1, "sequences": [{"tokens": [20], "logprobs": [-1.0], "stop_reason": "length"}]}),
        json!({"id": 9, "line": 4, "prompt_tokens": 1, "sequences": [{"tokens": [30], "logprobs": [-1.0], "stop_reason": "length"}]}),
    ];
    assert_eq!(lines, expected);
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let server = mockito::Server::new(); // no mocks: any request would get a 501
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &[
            r#"{"tokens": [1]}"#,
            "not json",
            r#"{"tokens": [2], "top_k": 0}"#,
        ],
    );
    let extra = ["--base-model", "m", "--tokens-only", "--input", &input];
    let out = tinkex_at(&url, &extra).run();
    assert_eq!(out.code, 2, "{out:?}");
    let expected = format!(
        "tinkex: error: --input {input}: 2 bad lines; nothing was sampled\n  line 2: not valid JSON (expected ident at line 1 column 2)\n  line 3: top_k: must be -1 (off) or at least 1\ntinkex: hint: fix the lines above and run again\n"
    );
    assert_eq!(out.stderr, expected);
}

#[test]
fn stdin_input_writes_jsonl_to_stdout_and_failures_set_the_exit_code() {
    let mut api = MockTinker::new();
    answer_by_prompt(&mut api, &[1]);
    api.route(
        Matcher::PartialJson(json!({"prompt": {"chunks": [{"tokens": [2]}]}})),
        "req-bad",
        r#"{"error": "prompt too long", "category": "user"}"#,
        None,
    );
    let out = api
        .tinkex(&["--base-model", "m", "--tokens-only", "--input", "-"])
        .stdin(b"{\"tokens\": [1]}\n{\"tokens\": [2]}\n")
        .run();
    assert_eq!(out.code, 2, "{out:?}");
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["sequences"][0]["tokens"], json!([10]));
    assert_eq!(lines[1]["error"]["category"], json!("user"));
    assert!(lines[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("prompt too long"));
    let stderr: Vec<&str> = out.stderr.lines().collect();
    assert!(
        stderr[0].starts_with("tinkex: 1/2 ok, 1 failed (1 user) in "),
        "{}",
        out.stderr
    );
    assert_eq!(
        stderr[1],
        "tinkex: error: 1 prompt failed (1 user); their lines in the output hold the errors"
    );
}

#[test]
fn an_existing_output_is_never_overwritten_without_resume() {
    let api = MockTinker::new();
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), &[r#"{"tokens": [1]}"#]);
    let output = dir.path().join("out.jsonl");
    std::fs::write(&output, "precious\n").unwrap();
    let output_arg = output.display().to_string();
    let out = api.tinkex(&batch_args(&input, &output_arg, &[])).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stderr, format!("tinkex: error: --output {output_arg} already exists\ntinkex: hint: pass --resume to continue it, or choose another file\n"));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "precious\n");
}

#[test]
fn a_killed_batch_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &[
            r#"{"tokens": [1]}"#,
            r#"{"tokens": [2]}"#,
            r#"{"tokens": [3]}"#,
            r#"{"tokens": [4]}"#,
        ],
    );
    let output = dir.path().join("out.jsonl");
    let output_arg = output.display().to_string();

    // First run: prompts 1 and 2 finish, prompt 3 never does; the run is killed while waiting.
    let mut api = MockTinker::new();
    answer_by_prompt(&mut api, &[1, 2]);
    api.route(
        Matcher::Any,
        "req-stuck",
        r#"{"type": "try_again", "request_id": "req-stuck", "queue_state": "active"}"#,
        None,
    );
    let mut child = api
        .command(
            &batch_args(&input, &output_arg, &["--parallel", "1", "-q"]),
            dir.path(),
        )
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_to_string(&output).map_or(0, |t| t.lines().count()) < 2
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        read_lines(&output).len(),
        2,
        "two lines were written before the kill"
    );

    // Second run: everything answers; only prompts 3 and 4 are sampled.
    let mut api = MockTinker::new();
    answer_by_prompt(&mut api, &[3, 4]);
    let out = api
        .tinkex(&batch_args(&input, &output_arg, &["--resume"]))
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let tokens: Vec<Value> = read_lines(&output)
        .iter()
        .map(|l| l["sequences"][0]["tokens"][0].clone())
        .collect();
    assert_eq!(tokens, vec![json!(10), json!(20), json!(30), json!(40)]);
    assert!(
        out.stderr.starts_with(
            "tinkex: resuming: 2 of 4 prompts already done, 2 to sample\ntinkex: 4/4 ok in "
        ),
        "{}",
        out.stderr
    );
}
