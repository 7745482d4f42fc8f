//! Issue 20, "the first ten minutes": what a new user sees on stderr, against the built binary.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::mock::run_args;
use crate::support::slow_api::{signal, wait_until, SlowApi};
use crate::support::{tinkex, with_args, MockTinker, KEY};

const RESULT: &str = r#"{"sequences":[{"tokens":[7],"logprobs":[-1.0],"stop_reason":"length"}]}"#;

/// `n` token prompts, one a line.
fn token_lines(n: usize) -> String {
    (1..=n)
        .map(|k| format!("{{\"tokens\": [{k}]}}\n"))
        .collect()
}

/// A URL where nothing listens: a port bound and released again.
fn closed_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// The built binary with a clean environment and no back-off waits.
fn command(args: &[&str], home: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tinkex"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HF_HUB_OFFLINE", "1")
        .env("TINKEX_RETRY_SCALE", "0")
        .env("NO_PROXY", "127.0.0.1,localhost");
    command
}

#[test]
fn a_batch_into_a_closed_pipe_stops_quietly_with_exit_0() {
    let api = MockTinker::answering(RESULT);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    // Far more than a pipe buffer holds, so the writer meets the closed pipe.
    fs::write(&input, token_lines(3000)).unwrap();
    let input = input.display().to_string();
    let base = api.args();
    let args = with_args(
        &base,
        &["--base-model", "m", "--tokens-only", "--input", &input],
    );
    let mut child = command(&args, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"line\":1"), "{first}");
    // The reader is gone (as with `| head -1`).
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}

#[test]
fn a_server_that_is_down_is_named_at_once_and_in_the_final_error() {
    let url = closed_url();
    let base = [
        "run",
        "--base-url",
        &url,
        "--api-key",
        KEY,
        "--base-model",
        "m",
        "--prompt-file",
        "-",
        "--tokens-only",
        "--timeout",
        "30",
    ];
    let waiting =
        format!("tinkex: cannot reach {url} (connection refused); retrying for up to 30 s\n");
    let error = format!(
        "tinkex: error: fetching the client configuration failed after retrying: cannot reach {url} (connection refused)\n\
         tinkex: hint: check --base-url or TINKER_BASE_URL, and that the server is up\n"
    );
    let out = tinkex(&base).stdin(b"[1]").run();
    assert_eq!(out.parts(), (4, "", format!("{waiting}{error}").as_str()));
    // -q: the error only.
    let quiet: Vec<&str> = base.iter().copied().chain(["-q"]).collect();
    let out = tinkex(&quiet).stdin(b"[1]").run();
    assert_eq!(out.parts(), (4, "", error.as_str()));
}

#[test]
fn a_timeout_that_cuts_retries_short_keeps_the_cause_and_the_value_as_given() {
    let url = closed_url();
    let args = [
        "run",
        "--base-url",
        &url,
        "--api-key",
        KEY,
        "--base-model",
        "m",
        "--prompt-file",
        "-",
        "--tokens-only",
        "--timeout",
        "0.5",
        "-q",
    ];
    // Real back-off (scale 1): the half-second deadline ends the retries.
    let out = tinkex(&args)
        .env("TINKEX_RETRY_SCALE", "1")
        .stdin(b"[1]")
        .run();
    // The URL and the hint of the first notice stay in the final error (issue 29 item 4).
    let expected = format!(
        "tinkex: error: timed out after 0.5 s while fetching the client configuration: last error: cannot reach {url} (connection refused)\n\
         tinkex: hint: check --base-url or TINKER_BASE_URL, and that the server is up\n"
    );
    assert_eq!(out.parts(), (5, "", expected.as_str()));
}

#[test]
fn ctrl_c_in_a_batch_prints_what_was_written_and_exits_130() {
    let api = SlowApi::start(Duration::from_millis(100), None);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    fs::write(&input, token_lines(60)).unwrap();
    let (input, output) = (input.display().to_string(), dir.path().join("int.jsonl"));
    let output_arg = output.display().to_string();
    let base = run_args(&api.url);
    let args = with_args(
        &base,
        &[
            "--base-model",
            "m",
            "--tokens-only",
            "--parallel",
            "1",
            "--input",
            &input,
            "--output",
            &output_arg,
        ],
    );
    let mut child = command(&args, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let lines = || {
        fs::read_to_string(&output)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    assert!(wait_until(Duration::from_secs(30), || lines() >= 2));
    signal(&child, libc::SIGINT);
    let sent = Instant::now();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    let written = lines();
    assert!(written < 60, "interrupted before the end");
    assert_eq!(status.code(), Some(130));
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("tinkex: interrupted: {written}/60 written to {output_arg}; run again with --resume to finish")
    );
}

#[test]
fn a_tokenizer_failure_says_how_to_go_on() {
    let out = tinkex(&[
        "run",
        "--base-model",
        "Qwen/Qwen3-8B",
        "--prompt",
        "hi",
        "--print-prompt",
    ])
    .run();
    assert_eq!(out.code, 2, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].starts_with("tinkex: error: Failed to load tokenizer Qwen/Qwen3-8B: tokenizer.json is not in the Hugging Face cache"),
        "{out:?}"
    );
    assert_eq!(
        lines[1],
        "tinkex: hint: pass --tokenizer FILE|DIR for a local copy, or --tokens-only with token ids (--prompt-file) to skip tokenization, or run tinkex prefetch on a connected machine first"
    );
}

#[test]
fn the_thinking_switch_of_an_unknown_family_is_found_in_its_template() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.jinja");
    fs::write(
        &template,
        "{% if enable_thinking is false %}NOTHINK {% endif %}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}> ",
    )
    .unwrap();
    let template = template.display().to_string();
    let tok = crate::support::small_tokenizer();
    let args = |think: &'static str| {
        let owned: Vec<String> = [
            "run",
            "--base-model",
            "acme/new-model",
            "--chat",
            "--prompt",
            "hi",
            "--print-prompt",
            "--tokenizer",
            &tok,
            "--chat-template",
            &template,
            think,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        owned
    };
    let no_think = args("--no-think");
    let out = tinkex(&no_think.iter().map(String::as_str).collect::<Vec<_>>()).run();
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(
        out.stdout.starts_with("NOTHINK [user] hi\n> "),
        "{}",
        out.stdout
    );
    let think = args("--think");
    let out = tinkex(&think.iter().map(String::as_str).collect::<Vec<_>>()).run();
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(out.stdout.starts_with("[user] hi\n> "), "{}", out.stdout);
}

#[test]
fn typos_get_the_closest_flag_or_command() {
    let run_hint = "tinkex: hint: run 'tinkex run --help' for the flags and an example\n";
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--max-token", "5"],
            "tinkex: error: unknown flag '--max-token'\ntinkex: hint: did you mean --max-tokens?\n",
        ),
        (
            &["run", "--num_samples", "2"],
            "tinkex: error: unknown flag '--num_samples'\ntinkex: hint: did you mean --num-samples?\n",
        ),
        (
            &["run", "--basemodel", "m"],
            "tinkex: error: unknown flag '--basemodel'\ntinkex: hint: did you mean --base-model?\n",
        ),
        (
            &["rnu"],
            "tinkex: error: unknown command 'rnu'\ntinkex: hint: did you mean 'run'?\n",
        ),
    ];
    for (args, stderr) in cases {
        let out = tinkex(args).run();
        assert_eq!(out.parts(), (2, "", *stderr), "{args:?}");
    }
    let out = tinkex(&["run", "--frobnicate"]).run();
    let want = format!("tinkex: error: unknown flag '--frobnicate'\n{run_hint}");
    assert_eq!(out.parts(), (2, "", want.as_str()));
    // -h is --help.
    let short = tinkex(&["run", "-h"]).run();
    let long = tinkex(&["run", "--help"]).run();
    assert_eq!((short.code, short.stderr.as_str()), (0, ""));
    assert_eq!(short.stdout, long.stdout);
}

#[test]
fn piped_stdin_is_the_prompt_when_none_is_given() {
    let api = MockTinker::answering(RESULT);
    let out = api
        .tinkex(&["--base-model", "m", "--tokens-only", "-q"])
        .stdin(b"[1, 2]")
        .run();
    assert_eq!(out.parts(), (0, "7\n", ""));
    // No stdin at all (/dev/null, as under cron) is still "no prompt given".
    let out = api.tinkex(&["--base-model", "m", "--tokens-only"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.starts_with("tinkex: error: no prompt given:"),
        "{out:?}"
    );
}

#[test]
fn json_in_batch_mode_changes_nothing() {
    let api = MockTinker::answering(RESULT);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    fs::write(&input, token_lines(2)).unwrap();
    let input = input.display().to_string();
    let plain = [
        "--base-model",
        "m",
        "--tokens-only",
        "-q",
        "--input",
        &input,
    ];
    let without = api.tinkex(&plain).run();
    let with_json: Vec<&str> = plain.iter().copied().chain(["--json"]).collect();
    let with = api.tinkex(&with_json).run();
    assert_eq!(without.code, 0, "{without:?}");
    assert_eq!(with.parts(), without.parts());
    let help = tinkex(&["run", "--help"]).run().stdout;
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("batch output is always JSON lines"), "{help}");
}
