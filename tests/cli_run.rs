//! `tinkex run` end to end: the built binary against a mock Tinker API, exact stdout/stderr/exit code.

use mockito::Matcher;
use serde_json::{json, Value};

use crate::support::{small_tokenizer, tinkex, tinkex_at, usage_error, MockTinker, KEY};

/// A poll answer saying the result is not ready yet.
const TRY_AGAIN: &str = r#"{"type":"try_again","request_id":"req-1","queue_state":"active"}"#;

/// A token prompt read from stdin, token ids printed, no progress lines.
const STDIN_TOKENS: [&str; 6] = [
    "--base-model",
    "m",
    "--prompt-file",
    "-",
    "--tokens-only",
    "-q",
];

/// A JSON result with one sequence of `tokens`, each with logprob -0.5.
fn result_json(sequences: &[(&[u32], &str)]) -> String {
    let sequences: Vec<Value> = sequences
        .iter()
        .map(|(tokens, stop)| json!({"tokens": tokens, "logprobs": tokens.iter().map(|_| -0.5).collect::<Vec<_>>(), "stop_reason": stop}))
        .collect();
    json!({"sequences": sequences, "prompt_logprobs": null, "topk_prompt_logprobs": null, "type": "sample"}).to_string()
}

#[test]
fn flag_values_are_checked_with_the_flag_named() {
    let base = ["run", "--base-model", "m", "--prompt", "hi"];
    let cases: &[(&[&str], &str)] = &[
        (&["--max-tokens", "0"], "invalid value '0' for --max-tokens: must be at least 1"),
        (&["--temperature", "-1"], "invalid value '-1' for --temperature: must be a finite number ≥ 0"),
        (&["--temperature=nan"], "invalid value 'nan' for --temperature: must be a finite number ≥ 0"),
        (&["--top-k", "0"], "invalid value '0' for --top-k: must be -1 (off) or at least 1"),
        (&["--top-p", "1.5"], "invalid value '1.5' for --top-p: must be greater than 0 and at most 1"),
        (&["--num-samples", "0"], "invalid value '0' for --num-samples: must be at least 1"),
        (&["--timeout", "-5"], "invalid value '-5' for --timeout: must be a number of seconds greater than 0 (at most one year)"),
        (&["--stop-token", "x"], "invalid value 'x' for --stop-token: expected a token id (a whole number ≥ 0), got 'x'"),
        (&["--seed", "1.5"], "invalid value '1.5' for --seed: must be a whole number"),
        (&["--frobnicate"], "unknown flag '--frobnicate'"),
    ];
    for (extra, message) in cases {
        let args: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        usage_error(&args, message);
    }
}

#[test]
fn prompt_and_model_rules_are_usage_errors() {
    usage_error(
        &["run", "--prompt", "hi"],
        "no model given: pass --base-model NAME or --model-path tinker://…",
    );
    usage_error(
        &["run", "--base-model", "m"],
        "no prompt given: pass --prompt TEXT or --prompt-file PATH ('-' for stdin), or --input FILE for a batch",
    );
    usage_error(
        &[
            "run",
            "--base-model",
            "m",
            "--prompt",
            "a",
            "--prompt-file",
            "b",
        ],
        "give either --prompt or --prompt-file, not both",
    );
    usage_error(
        &["run", "--base-model", "m", "--prompt", ""],
        "--prompt is empty",
    );
    usage_error(
        &["run", "--model-path", "/tmp/w", "--prompt", "a"],
        "--model-path must be a tinker:// path, got '/tmp/w'",
    );
    usage_error(
        &[
            "run",
            "--base-model",
            "m",
            "--prompt",
            "a",
            "--stop",
            "x",
            "--stop-token",
            "1",
        ],
        "give either --stop or --stop-token, not both",
    );
}

#[test]
fn prompt_file_errors_name_the_file() {
    let out = tinkex(&[
        "run",
        "--base-model",
        "m",
        "--api-key",
        KEY,
        "--prompt-file",
        "/nonexistent/p.txt",
    ])
    .run();
    assert_eq!((out.code, out.stdout.as_str()), (2, ""));
    assert_eq!(
        out.stderr,
        "tinkex: error: --prompt-file /nonexistent/p.txt: no such file\n"
    );
    let out = tinkex(&[
        "run",
        "--base-model",
        "m",
        "--api-key",
        KEY,
        "--prompt-file",
        "-",
    ])
    .stdin(b"\n")
    .run();
    assert_eq!(
        out.stderr,
        "tinkex: error: --prompt-file - (stdin): the prompt is empty\n"
    );
    assert_eq!(out.code, 2);
}

#[test]
fn version_and_help_need_no_network() {
    for args in [&["--version"][..], &["version"][..]] {
        let out = tinkex(args).run();
        assert_eq!(out.parts(), (0, "tinkex 0.1.0\n", ""));
    }
    let out = tinkex(&["run", "--help"]).run();
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(
        "--max-tokens <N>                most tokens per sample, at least 1 (default: 128)"
    ));
    assert!(out.stdout.contains("Error codes:\n  0 success"));
    assert_eq!(out.stderr, "");
}

#[test]
fn token_prompt_from_stdin_prints_ids_with_tokens_only() {
    let mut api = MockTinker::new();
    let asample = api.asample(Matcher::PartialJson(json!({"prompt": {"chunks": [{"tokens": [1, 2, 3], "type": "encoded_text"}]}, "num_samples": 2})));
    api.result(&result_json(&[(&[5, 6, 7], "stop"), (&[8], "length")]));
    let out = api
        .tinkex(&[
            "--base-model",
            "Qwen/Qwen3-8B",
            "--prompt-file",
            "-",
            "--tokens-only",
            "--num-samples",
            "2",
        ])
        .stdin(b"[1, 2, 3]\n")
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "5 6 7\n8\n");
    asample.assert();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines[0], "tinkex: sampling 2 sequences from Qwen/Qwen3-8B…");
    assert!(
        lines[1].starts_with("tinkex: done: 2 sequences in "),
        "{}",
        out.stderr
    );
    assert_eq!(lines.len(), 2);
}

#[test]
fn text_prompt_is_encoded_and_samples_decoded() {
    let mut api = MockTinker::new();
    // "Hello" is id 388 in the small tokenizer; "<|im_end|>" is 2.
    let asample = api.asample(Matcher::PartialJson(json!({"prompt": {"chunks": [{"tokens": [388]}]}, "sampling_params": {"max_tokens": 16, "temperature": 0.5}})));
    api.result(&result_json(&[(&[388, 14, 349, 319, 3, 2], "stop")]));
    let tokenizer = small_tokenizer();
    let out = api
        .tinkex(&[
            "--base-model",
            "m",
            "--tokenizer",
            &tokenizer,
            "--prompt",
            "Hello",
            "--max-tokens",
            "16",
            "--temperature",
            "0.5",
            "-q",
        ])
        .run();
    assert_eq!(out.parts(), (0, "Hello, world!\n", ""));
    asample.assert();
}

#[test]
fn json_output_has_the_documented_schema() {
    let api = MockTinker::answering(&result_json(&[(&[388, 2], "stop")]));
    let tokenizer = small_tokenizer();
    let out = api
        .tinkex(&[
            "--base-model",
            "m",
            "--tokenizer",
            &tokenizer,
            "--prompt",
            "Hello",
            "--json",
            "-q",
        ])
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let expected = "{\n  \"model\": \"m\",\n  \"prompt_tokens\": 1,\n  \"sequences\": [\n    {\n      \"text\": \"Hello<|im_end|>\",\n      \"tokens\": [\n        388,\n        2\n      ],\n      \"logprobs\": [\n        -0.5,\n        -0.5\n      ],\n      \"stop_reason\": \"stop\"\n    }\n  ],\n  \"prompt_cache_hit_tokens\": 0\n}\n";
    assert_eq!(out.stdout, expected);
}

#[test]
fn output_file_is_written_and_stdout_stays_empty() {
    let api = MockTinker::answering(&result_json(&[(&[9, 10], "length")]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/out.txt");
    let path_arg = path.display().to_string();
    let out = api
        .tinkex(&[&STDIN_TOKENS[..], &["--output", &path_arg]].concat())
        .stdin(b"{\"tokens\": [4]}")
        .run();
    assert_eq!(out.parts(), (0, "", ""));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "9 10\n");
}

#[test]
fn a_failed_run_leaves_no_output_file_and_keeps_an_old_one() {
    let api = MockTinker::answering(
        r#"{"error":"max_tokens too large for this model","category":"user"}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.txt");
    let existing = dir.path().join("existing.txt");
    std::fs::write(&existing, "keep me").unwrap();
    for path in [&fresh, &existing] {
        let path_arg = path.display().to_string();
        let out = api
            .tinkex(&[&STDIN_TOKENS[..], &["--output", &path_arg]].concat())
            .stdin(b"[1]")
            .run();
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("max_tokens too large for this model"),
            "{}",
            out.stderr
        );
    }
    assert!(!fresh.exists());
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("existing.txt")],
        "no temp files left"
    );
}

#[test]
fn exit_codes_follow_the_error_category() {
    // 401 on the first call: authentication (3).
    let mut server = mockito::Server::new();
    server
        .mock("POST", "/api/v1/client/config")
        .with_status(401)
        .with_body(r#"{"detail":"Invalid API key"}"#)
        .create();
    let url = server.url();
    let out = tinkex_at(&url, &STDIN_TOKENS).stdin(b"[1]").run();
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.starts_with("tinkex: error: ") && out.stderr.contains("Invalid API key"),
        "{}",
        out.stderr
    );

    // A server-category result: server (4).
    let api = MockTinker::answering(r#"{"error":"worker crashed","category":"server"}"#);
    let out = api.tinkex(&STDIN_TOKENS).stdin(b"[1]").run();
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("worker crashed"), "{}", out.stderr);

    // A future that never finishes: timeout (5), within the deadline + 1 s.
    let api = MockTinker::answering(TRY_AGAIN);
    let started = std::time::Instant::now();
    let out = api
        .tinkex(&[&STDIN_TOKENS[..], &["--timeout", "1"]].concat())
        .stdin(b"[1]")
        .run();
    assert_eq!(out.code, 5, "{out:?}");
    assert!(
        started.elapsed().as_secs_f64() < 2.5,
        "took {:?}",
        started.elapsed()
    );
    assert!(
        out.stderr
            .starts_with("tinkex: error: timed out after 1 s while "),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_key_prefix_is_refused_before_any_request_without_echoing_it() {
    let server = mockito::Server::new();
    let url = server.url();
    let out = tinkex(&[
        "run",
        "--base-url",
        &url,
        "--api-key",
        "sk-secret-value-123",
        "--base-model",
        "m",
        "--prompt",
        "hi",
    ])
    .run();
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        !out.stderr.contains("sk-secret-value-123"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_key_never_appears_on_stderr_even_at_trace() {
    let api = MockTinker::answering(&result_json(&[(&[1], "length")]));
    let out = api
        .tinkex(&["--base-model", "m", "--prompt-file", "-", "--tokens-only"])
        .env("RUST_LOG", "trace")
        .stdin(b"[1]")
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.len() > 200, "trace logging produced output");
    assert!(!out.stderr.contains(KEY), "key leaked:\n{}", out.stderr);
    assert!(
        !out.stderr.contains("0123456789abcdef"),
        "part of the key leaked"
    );
}

#[test]
fn token_ids_outside_the_vocabulary_are_refused() {
    let api = MockTinker::new();
    let tokenizer = small_tokenizer();
    let out = api
        .tinkex(&[
            "--base-model",
            "m",
            "--tokenizer",
            &tokenizer,
            "--prompt-file",
            "-",
        ])
        .stdin(b"[1, 400]")
        .run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("prompt token 400 at position 1 is outside the vocabulary"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigterm_and_sigint_exit_143_and_130() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let (api, polls) = MockTinker::polled(TRY_AGAIN);
        let dir = tempfile::tempdir().unwrap();
        let prompt = dir.path().join("prompt.json");
        std::fs::write(&prompt, "[1]").unwrap();
        let prompt = prompt.display().to_string();
        let mut child = api
            .command(
                &[
                    "--base-model",
                    "m",
                    "--prompt-file",
                    &prompt,
                    "--tokens-only",
                    "-q",
                    "--timeout",
                    "20",
                ],
                dir.path(),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Signal once the run is waiting for its result: its first poll has reached the mock.
        polls
            .recv_timeout(std::time::Duration::from_secs(15))
            .expect("the run polls for its result");
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code));
    }
}

#[test]
fn the_tokenizer_cache_is_written_under_home_unless_turned_off() {
    let cache_dir = |home: &std::path::Path| home.join(".cache/tinkex/tokenizers");
    for (flag, expect_cache) in [(None, true), (Some("--no-tokenizer-cache"), false)] {
        let mut api = MockTinker::new();
        api.asample(Matcher::PartialJson(
            json!({"prompt": {"chunks": [{"tokens": [388]}]}}),
        ));
        api.result(&result_json(&[(&[388], "length")]));
        let home = tempfile::tempdir().unwrap();
        let home_arg = home.path().display().to_string();
        let tokenizer = small_tokenizer();
        let mut extra = vec![
            "--base-model",
            "m",
            "--tokenizer",
            &tokenizer,
            "--prompt",
            "Hello",
            "-q",
        ];
        extra.extend(flag);
        let out = api.tinkex(&extra).env("HOME", &home_arg).run();
        assert_eq!((out.code, out.stdout.as_str()), (0, "Hello\n"), "{out:?}");
        let entries = std::fs::read_dir(cache_dir(home.path())).map_or(0, |d| d.count());
        assert_eq!(
            entries > 0,
            expect_cache,
            "cache entries: {entries} with {flag:?}"
        );
    }
}

#[test]
fn a_closed_stdout_pipe_exits_zero_quietly() {
    let api = MockTinker::answering(&result_json(&[(&[1, 2, 3], "length")]));
    let home = tempfile::tempdir().unwrap();
    let mut child = api
        .command(&STDIN_TOKENS, home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before tinkex has anything to print, as `| head -c0` would.
    drop(child.stdout.take());
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"[1]").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
