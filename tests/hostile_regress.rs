//! One end-to-end regression per hostile-input bug of issue 13, against the built binary and
//! the hostile server: each names the wrong answer and the exact promise it once broke.

use std::time::Duration;

use crate::support::e2e::Scratch;
use crate::support::hostile::{Action, Ep, HostileServer, Plan, KEY, TOKEN};
use crate::support::Outcome;

/// `--timeout` of these runs, in seconds.
const TIMEOUT: &str = "2";

/// Runs `tinkex run` (or a two-line batch) against a server that answers `ep` with `action`.
fn run_against(
    ep: Ep,
    action: Action,
    every_call: bool,
    batch: bool,
    extra: &[&str],
) -> (Outcome, Scratch) {
    let server = HostileServer::start(Plan {
        ep,
        action,
        every_call,
    });
    let scratch = Scratch::new();
    let tokenizer = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/small/tokenizer.json");
    let mut args = vec![
        "run",
        "--base-url",
        server.url(),
        "--api-key",
        KEY,
        "--timeout",
        TIMEOUT,
    ];
    args.extend(["--base-model", "Qwen/Qwen3-8B", "--max-tokens", "4"]);
    let (input, out, prompt);
    if batch {
        input = scratch.file(
            "in.jsonl",
            "{\"id\":\"a\",\"prompt\":\"hello\"}\n{\"id\":\"b\",\"prompt\":\"world\"}\n",
        );
        out = scratch.join("out.jsonl").to_string_lossy().into_owned();
        args.extend([
            "--tokenizer",
            tokenizer,
            "--input",
            &input,
            "--output",
            &out,
        ]);
        args.extend(["--batch-timeout", TIMEOUT]);
    } else {
        prompt = scratch.file("prompt.json", "[1, 2]");
        args.extend(["--prompt-file", &prompt, "--tokens-only", "--json"]);
    }
    args.extend(extra);
    let args: Vec<String> = args.into_iter().map(String::from).collect();
    let run = scratch.run(&args, Duration::from_secs(10));
    (run, scratch)
}

fn with_retry_after(status: u16, value: &str) -> Action {
    Action::Reply {
        status,
        content_type: "application/json",
        headers: vec![("Retry-After".to_string(), value.to_string())],
        body: br#"{"detail":"busy"}"#.to_vec(),
        declared: None,
    }
}

fn assert_no_panic(run: &Outcome) {
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("internal error"),
        "{run:?}"
    );
}

#[test]
fn retry_after_1e20_ends_in_exit_4_not_a_panic() {
    let (run, _s) = run_against(Ep::Config, with_retry_after(503, "1e20"), true, false, &[]);
    assert_no_panic(&run);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("HTTP 503: \"busy\""), "{run:?}");
}

#[test]
fn retry_after_1e20_in_a_batch_ends_instead_of_hanging() {
    // Every answer's Retry-After is read, whatever the endpoint's retry rule does with it.
    let (run, scratch) = run_against(Ep::Asample, with_retry_after(503, "1e20"), true, true, &[]);
    assert_no_panic(&run);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");
    let journal = std::fs::read_to_string(scratch.join("out.jsonl")).unwrap();
    assert_eq!(
        journal.matches("HTTP 503: \\\"busy\\\"").count(),
        2,
        "{journal}"
    );
}

#[test]
fn the_20_byte_zero_k_body_is_a_server_error() {
    let body = vec![
        0x0a, 0x02, 0x08, 0x01, 0x1a, 0x0c, 0x0a, 0x00, 0x12, 0x00, 0x18, 0x00, 0x20, 0xff, 0xff,
        0xff, 0xff, 0x0f, 0x20, 0x05,
    ];
    let action = Action::Reply {
        status: 200,
        content_type: "application/x-protobuf",
        headers: Vec::new(),
        body,
        declared: None,
    };
    let (run, _s) = run_against(Ep::Retrieve, action, true, false, &[]);
    assert_no_panic(&run);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr
            .contains("not valid: topk_prompt_logprobs has 4294967295 rows"),
        "{run:?}"
    );
}

#[test]
fn a_key_echoed_across_the_cut_never_leaks_a_prefix() {
    // The key straddles each cut that once ran before the scrubber: 300 characters of a
    // plain-text error body, 2,000 of the -vvv body preview; and now 1,000 of any text.
    for (cut, json) in [(300, false), (2000, false), (1000, true)] {
        let text = format!("{}{KEY} trailing", "x".repeat(cut - 17));
        let action = if json {
            Action::json(422, serde_json::json!({ "detail": text }).to_string())
        } else {
            Action::Reply {
                status: 422,
                content_type: "text/plain",
                headers: Vec::new(),
                body: text.into_bytes(),
                declared: None,
            }
        };
        for batch in [false, true] {
            let (run, scratch) = run_against(Ep::Asample, action.clone(), true, batch, &["-vvv"]);
            assert_eq!(run.code, 2, "{run:?}");
            let journal = std::fs::read_to_string(scratch.join("out.jsonl")).unwrap_or_default();
            for text in [&run.stderr, &journal] {
                assert!(!text.contains(&KEY[..8]), "cut {cut}: {text}");
            }
            let shown = if batch { &journal } else { &run.stderr };
            if cut <= 1000 {
                assert!(shown.contains("[REDACTED]"), "cut {cut}: {shown}");
            }
        }
    }
}

#[test]
fn escape_sequences_from_the_server_are_shown_escaped_and_capped() {
    let detail = format!("\u{1b}]0;pwned\u{7}\u{1b}[2J{}", "e".repeat(5000));
    let body = serde_json::json!({ "detail": detail }).to_string();
    let (run, _s) = run_against(Ep::CreateSession, Action::json(400, body), true, false, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        !run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'),
        "{run:?}"
    );
    let line = &run.error_lines()[0];
    assert!(line.contains("\"\\u{1b}]0;pwned\\u{7}\\u{1b}[2J"), "{line}");
    assert!(
        line.chars().count() < 1200,
        "{} chars",
        line.chars().count()
    );
}

#[test]
fn a_non_jwt_session_token_is_never_logged_at_trace() {
    let (run, _s) = run_against(Ep::Finish, Action::json(200, "{}"), false, false, &["-vvv"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("/api/v1/auth/token"), "{run:?}");
    assert!(!run.stderr.contains(&TOKEN[..8]), "{}", run.stderr);
    assert!(!run.stderr.contains(&KEY[..8]), "{}", run.stderr);
}

#[test]
fn a_stalled_config_answer_in_a_batch_keeps_the_batch_timeout() {
    let (run, _s) = run_against(Ep::Config, Action::Stall { sent: 44 }, false, true, &[]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");
}
