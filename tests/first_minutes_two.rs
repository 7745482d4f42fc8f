//! Issue 29, "the first ten minutes, round two": connection messages that match what the
//! code does (item 4) and mistyped tokenizer paths (item 9), on the built binary.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::demo::{DemoConfig, DemoServer};
use crate::support::{tinkex, KEY};

/// A URL where nothing listens: a port bound and released again.
fn closed_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A loopback server that answers every connection with `reply` (plain HTTP, no TLS) and
/// counts the connections; the thread ends with the test process.
fn raw_server(reply: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply);
        }
    });
    (addr.to_string(), count)
}

const PLAIN_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const PLAIN_503: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

fn sample_args(url: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--base-url",
        url,
        "--api-key",
        KEY,
        "--base-model",
        "Qwen/Qwen3-8B",
        "--prompt-file",
        "-",
        "--tokens-only",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn https_to_a_plain_http_server_is_said_once_and_not_retried() {
    let (addr, count) = raw_server(PLAIN_400);
    let url = format!("https://{addr}");
    // Real back-off: a retried failure would take seconds, and show in the count.
    let out = tinkex(&sample_args(&url, &[]))
        .env("TINKEX_RETRY_SCALE", "1")
        .stdin(b"[1]")
        .kill_after(Duration::from_secs(60))
        .run();
    let expected = format!(
        "tinkex: error: fetching the client configuration failed: {url} answers in plain HTTP, \
         not HTTPS: use --base-url http://{addr} (or TINKER_BASE_URL)\n"
    );
    assert_eq!(out.parts(), (4, "", expected.as_str()));
    assert_eq!(count.load(Ordering::SeqCst), 1, "one attempt only");
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn the_unreachable_note_states_the_window_the_retries_keep() {
    // No --timeout: the setup call's own window (60 s) is the figure; retries do not wait.
    let url = closed_url();
    let out = tinkex(&sample_args(&url, &[])).stdin(b"[1]").run();
    let expected = format!(
        "tinkex: cannot reach {url} (connection refused); retrying for up to 60 s\n\
         tinkex: error: fetching the client configuration failed after retrying: cannot reach {url} (connection refused)\n\
         tinkex: hint: check --base-url or TINKER_BASE_URL, and that the server is up\n"
    );
    assert_eq!(out.parts(), (4, "", expected.as_str()));
}

#[test]
fn the_deadline_error_keeps_the_url_and_the_hint_and_ends_on_time() {
    let url = closed_url();
    let out = tinkex(&sample_args(&url, &["--timeout", "2"]))
        .env("TINKEX_RETRY_SCALE", "1")
        .stdin(b"[1]")
        .kill_after(Duration::from_secs(60))
        .run();
    let expected = format!(
        "tinkex: cannot reach {url} (connection refused); retrying for up to 2 s\n\
         tinkex: error: timed out after 2 s while fetching the client configuration: last error: cannot reach {url} (connection refused)\n\
         tinkex: hint: check --base-url or TINKER_BASE_URL, and that the server is up\n"
    );
    assert_eq!(out.parts(), (5, "", expected.as_str()));
    assert!(out.elapsed < Duration::from_secs(4), "{:?}", out.elapsed);
}

#[test]
fn auth_status_is_one_attempt_without_retries() {
    let url = closed_url();
    let out = tinkex(&["auth", "status", "--base-url", &url, "--api-key", KEY])
        .env("TINKEX_RETRY_SCALE", "1")
        .kill_after(Duration::from_secs(60))
        .run();
    let expected = format!(
        "tinkex: error: fetching the client configuration failed: cannot reach {url} (connection refused)\n\
         tinkex: hint: check --base-url or TINKER_BASE_URL, and that the server is up\n"
    );
    assert_eq!(out.parts(), (4, "", expected.as_str()));
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);

    // A server error is not retried either: one request, exit 4.
    let (addr, count) = raw_server(PLAIN_503);
    let url = format!("http://{addr}");
    let out = tinkex(&["auth", "status", "--base-url", &url, "--api-key", KEY])
        .env("TINKEX_RETRY_SCALE", "1")
        .kill_after(Duration::from_secs(60))
        .run();
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 503"), "{}", out.stderr);
    assert_eq!(count.load(Ordering::SeqCst), 1, "one attempt only");
}

#[test]
fn a_base_url_ending_in_the_api_path_gets_a_hint_to_drop_it() {
    let server = DemoServer::start(DemoConfig::default()).expect("demo server starts");
    let root = server.url();
    for base in [format!("{root}/api/v1"), format!("{root}/api/v1/")] {
        let out = tinkex(&sample_args(&base, &[])).stdin(b"[1]").run();
        assert_eq!(out.code, 2, "{}", out.stderr);
        let lines = out.error_lines();
        assert!(lines[0].contains("HTTP 404"), "{}", out.stderr);
        let hint = format!(
            "tinkex: hint: the base URL ends in the API path, which tinkex adds itself: drop it (--base-url {root})"
        );
        assert!(out.stderr.lines().any(|l| l == hint), "{}", out.stderr);
    }
}

#[test]
fn a_mistyped_tokenizer_path_is_no_such_file_not_a_hub_download() {
    let url = closed_url();
    // `fixtures` exists (the binary runs from the crate root), so `fixtures/nope` is a path.
    for value in [
        "nonexistent.json",
        "./nope",
        "~/nope/tokenizer.json",
        "fixtures/nope",
    ] {
        let args = [
            "run",
            "--base-url",
            &url,
            "--api-key",
            KEY,
            "--base-model",
            "Qwen/Qwen3-8B",
            "--prompt",
            "hi",
            "--tokenizer",
            value,
        ];
        let out = tinkex(&args).run();
        assert_eq!(out.code, 2, "{value}: {}", out.stderr);
        let first = out.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with("tinkex: error: Failed to load tokenizer "),
            "{first}"
        );
        assert!(first.ends_with(": no such file"), "{value}: {first}");
        assert!(!out.stderr.contains("huggingface"), "{}", out.stderr);
        assert!(
            out.stderr.contains("is a path; check it"),
            "{value}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_sampled_token_id_outside_the_vocabulary_is_a_server_error() {
    // Issue 23 finding 10: id 999999 used to vanish from the decoded text.
    let result =
        r#"{"sequences":[{"tokens":[72,999999],"logprobs":[-1.0,-1.0],"stop_reason":"length"}]}"#;
    let api = crate::support::MockTinker::answering(result);
    let tokenizer = crate::support::small_tokenizer();
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec![
            "--base-model",
            "m",
            "--prompt",
            "hi",
            "--tokenizer",
            &tokenizer,
        ];
        args.extend_from_slice(extra);
        let out = api.tinkex(&args).run();
        assert_eq!(out.code, 4, "{extra:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "nothing printed for a broken result");
        let lines = out.error_lines();
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(
            lines[0]
                .contains("the server sent token id 999999, outside the vocabulary of tokenizer"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(" ids, 0 to "), "{}", lines[0]);
    }
}

#[test]
fn setup_retries_of_an_unreachable_server_fit_the_stated_60_s() {
    // Real nominal delays, recorded instead of slept: ten 0.5·2ⁿ s back-offs with jitter
    // would add up to as much as 69 s; the window keeps them within the note's 60 s.
    for _ in 0..5 {
        let (policy, delays) = crate::support::client::recorder();
        let mut config = tinkex::client::Config::new(KEY, closed_url());
        config.retry = policy;
        config.deadline = tinkex::Deadline::after(Duration::from_secs(7200));
        let err = tinkex::client::ServiceClient::new(config).unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(
            err.to_string()
                .contains("failed after retrying: cannot reach"),
            "{err}"
        );
        let total: Duration = delays.lock().unwrap().iter().sum();
        assert!(total <= Duration::from_secs(60), "{total:?}");
        assert!(total >= Duration::from_secs(45), "{total:?}");
    }
}
