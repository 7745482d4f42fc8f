//! The built binary finding its credential where the official SDK does, against the
//! demo server: exit codes, stderr, and that no credential is ever printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::demo::{DemoConfig, DemoServer};
use crate::support::client::{jwt, now};
use crate::support::{tinkex, Outcome, Tinkex};

const STORED_KEY: &str = "tml-stored-login-key-0123456789";
const COMMAND_KEY: &str = "tml-command-key-0123456789";

/// A temp HOME, optionally holding `~/.tinker/credentials.json`.
fn home(credentials: Option<&str>) -> TempDir {
    let home = tempfile::tempdir().unwrap();
    if let Some(text) = credentials {
        let dir = home.path().join(".tinker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("credentials.json"), text).unwrap();
    }
    home
}

/// The file `tinker auth login` writes, with `key` as the default.
fn login(key: &str) -> String {
    format!(
        r#"{{"version":1,"default":"work","keys":{{"work":{{"type":"generated","key":"{key}","name":"work"}}}}}}"#
    )
}

/// A demo server accepting only `key` (and, in JWT mode, the JWTs it issues for it).
fn demo(key: &str, jwt: bool) -> DemoServer {
    DemoServer::start(DemoConfig {
        require_key: Some(key.to_string()),
        jwt,
        log_requests: false,
        ..DemoConfig::default()
    })
    .expect("demo server starts")
}

/// `tinkex run` against `url` with `HOME` = `home`, a token prompt and no tokenizer.
fn run_tokens(url: &str, home: &Path, extra: &[&str]) -> Tinkex {
    let mut args = vec![
        "run",
        "--base-url",
        url,
        "--base-model",
        "Qwen/Qwen3-8B",
        "--prompt-file",
        "-",
        "--tokens-only",
        "--max-tokens",
        "4",
    ];
    if !extra.contains(&"--timeout") {
        args.extend_from_slice(&["--timeout", "20"]);
    }
    args.extend_from_slice(extra);
    tinkex(&args)
        .env("HOME", &home.display().to_string())
        .stdin(b"[9707, 11]")
}

/// A command that notes each run in `counter`, says something on stderr, prints `key`.
fn counting_command(counter: &Path, key: &str) -> String {
    format!(
        "echo run >> '{}'; echo 'credential helper: logged in' >&2; echo {key}",
        counter.display()
    )
}

fn runs(counter: &Path) -> usize {
    std::fs::read_to_string(counter)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn assert_auth_error(out: &Outcome, expected: &str) {
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains(expected), "{}", out.stderr);
}

#[test]
fn a_stored_login_alone_samples_from_the_demo_server() {
    let home = home(Some(&login(STORED_KEY)));
    let server = demo(STORED_KEY, false);
    let out = tinkex(&[
        "run",
        "--base-url",
        &server.url(),
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        "fixtures/qwen3/tokenizer.json",
        "--prompt",
        "Hello",
        "-q",
    ])
    .env("HOME", &home.path().display().to_string())
    .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with("This is tinkex's offline demo server."),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
    let log = server.request_log();
    assert!(log.len() >= 4);
    assert!(log
        .iter()
        .all(|r| r.header("x-api-key") == Some(STORED_KEY)));
}

#[test]
fn nothing_found_exits_3_listing_every_way() {
    let server = demo(STORED_KEY, false);
    let empty = home(None);
    let out = run_tokens(&server.url(), empty.path(), &[]).run();
    assert_auth_error(&out, "tinkex: error: no API key found");
    for way in [
        "--api-key",
        "TINKER_API_KEY",
        "TINKER_CREDENTIAL_CMD",
        "tinker auth login",
    ] {
        assert!(out.stderr.contains(way), "{}", out.stderr);
    }
    assert!(server.request_log().is_empty());
}

#[test]
fn a_malformed_credentials_file_exits_3_naming_it_and_not_its_contents() {
    let server = demo(STORED_KEY, false);
    let broken = home(Some(&login(STORED_KEY)[..40]));
    let path = broken.path().join(".tinker").join("credentials.json");
    let out = run_tokens(&server.url(), broken.path(), &[]).run();
    let expected = format!("the credentials file {} is not valid JSON", path.display());
    assert_auth_error(&out, &expected);
    assert!(!out.stderr.contains("tml-stored"), "{}", out.stderr);
    assert!(server.request_log().is_empty());
}

#[test]
fn a_hung_credential_command_ends_at_the_timeout_with_exit_5() {
    let server = demo(STORED_KEY, true);
    let empty = home(None);
    let started = Instant::now();
    let out = run_tokens(&server.url(), empty.path(), &["--timeout", "1"])
        .env("TINKER_CREDENTIAL_CMD", "sleep 30")
        .run();
    assert_eq!(out.code, 5, "{out:?}");
    assert!(
        out.stderr.contains("while running TINKER_CREDENTIAL_CMD"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(server.request_log().is_empty());
}

#[test]
fn the_command_serves_a_jwt_server_and_its_stderr_passes_through() {
    let server = demo(COMMAND_KEY, true);
    let dir = home(Some(&login(STORED_KEY)));
    let counter = dir.path().join("runs");
    let out = run_tokens(&server.url(), dir.path(), &["-q"])
        .env(
            "TINKER_CREDENTIAL_CMD",
            &counting_command(&counter, COMMAND_KEY),
        )
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert_eq!(
        out.stderr.matches("credential helper: logged in\n").count(),
        2,
        "{}",
        out.stderr
    );
    // Once for client/config, once for the JWT exchange.
    assert_eq!(runs(&counter), 2);
    let log = server.request_log();
    let keys: Vec<_> = log.iter().map(|r| r.header("x-api-key")).collect();
    assert_eq!(keys[0], Some(COMMAND_KEY));
    assert_eq!(keys[1], Some(COMMAND_KEY));
    assert!(keys[2..]
        .iter()
        .all(|k| k.is_some_and(|k| k.starts_with("eyJ"))));
}

#[test]
fn a_bad_api_key_falls_back_to_the_command_with_one_warning() {
    let server = demo(COMMAND_KEY, true);
    let dir = home(None);
    let counter = dir.path().join("runs");
    let out = run_tokens(
        &server.url(),
        dir.path(),
        &["--api-key", "sk-bad-prefix-9876"],
    )
    .env(
        "TINKER_CREDENTIAL_CMD",
        &counting_command(&counter, COMMAND_KEY),
    )
    .env("TINKER_API_KEY", "tml-env-key-never-used-1")
    .run();
    assert_eq!(out.code, 0, "{out:?}");
    let warnings: Vec<_> = out.stderr.lines().filter(|l| l.contains("warn")).collect();
    assert_eq!(
        warnings,
        vec![
            "tinkex: warning: the API key given with --api-key is neither a 'tml-' key nor a \
             JWT; using TINKER_CREDENTIAL_CMD instead"
        ],
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sk-bad"), "{}", out.stderr);
    assert_eq!(runs(&counter), 2);
}

#[test]
fn a_command_alone_without_jwt_auth_exits_3() {
    let server = demo(COMMAND_KEY, false);
    let dir = home(None);
    let counter = dir.path().join("runs");
    let out = run_tokens(&server.url(), dir.path(), &[])
        .env(
            "TINKER_CREDENTIAL_CMD",
            &counting_command(&counter, COMMAND_KEY),
        )
        .run();
    assert_auth_error(&out, "pjwt_auth_enabled");
    assert!(
        out.stderr.contains("TINKER_CREDENTIAL_CMD"),
        "{}",
        out.stderr
    );
    let paths: Vec<_> = server.request_log().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/api/v1/client/config"]);
}

#[test]
fn a_failing_command_exits_3_without_showing_what_it_printed() {
    let server = demo(COMMAND_KEY, true);
    let dir = home(None);
    let out = run_tokens(&server.url(), dir.path(), &[])
        .env(
            "TINKER_CREDENTIAL_CMD",
            "echo tml-half-printed-secret-1; echo 'please log in' >&2; exit 4",
        )
        .run();
    assert_auth_error(
        &out,
        "tinkex: error: TINKER_CREDENTIAL_CMD failed (exit status: 4)",
    );
    assert!(out.stderr.contains("please log in\n"), "{}", out.stderr);
    assert!(!out.stderr.contains("half-printed"), "{}", out.stderr);
    assert!(server.request_log().is_empty());
}

#[test]
fn an_expired_jwt_key_sends_no_request() {
    let server = demo(STORED_KEY, true);
    let dir = home(None);
    let expired = jwt(now() - 5, "cli");
    let out = run_tokens(&server.url(), dir.path(), &[])
        .env("TINKER_API_KEY", &expired)
        .run();
    assert_auth_error(
        &out,
        "tinkex: error: the API key in TINKER_API_KEY is a JWT that has expired",
    );
    assert!(!out.stderr.contains("eyJ"), "{}", out.stderr);
    assert!(server.request_log().is_empty());
}

/// Everything a trace-level run printed, checked for every credential it held.
fn assert_no_credential(out: &Outcome, secrets: &[&str]) {
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.len() > 500, "trace logging produced output");
    let printed = format!("{}{}", out.stdout, out.stderr);
    for secret in secrets {
        assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
    }
    assert!(!printed.contains("eyJ"), "a JWT leaked:\n{printed}");
}

#[test]
fn no_credential_appears_at_trace_level() {
    let dir = home(Some(&login(STORED_KEY)));
    let server = demo(STORED_KEY, false);
    let out = run_tokens(&server.url(), dir.path(), &[])
        .env("RUST_LOG", "trace")
        .run();
    assert_no_credential(&out, &[STORED_KEY, "login-key-0123"]);
    let path: PathBuf = dir.path().join(".tinker").join("credentials.json");
    let source = format!("credential: from {}", path.display());
    assert!(out.stderr.contains(&source), "{}", out.stderr);

    let server = demo(COMMAND_KEY, true);
    let counter = dir.path().join("runs");
    let out = run_tokens(&server.url(), dir.path(), &[])
        .env("RUST_LOG", "trace")
        .env(
            "TINKER_CREDENTIAL_CMD",
            &counting_command(&counter, COMMAND_KEY),
        )
        .env("TINKER_API_KEY", "bad-env-key-123456")
        .run();
    assert_no_credential(&out, &[COMMAND_KEY, "command-key-0123", "bad-env-key"]);
    assert!(
        out.stderr
            .contains("credential: from TINKER_CREDENTIAL_CMD"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_lists_the_sources_in_order() {
    let out = tinkex(&["run", "--help"]).run();
    assert_eq!(out.code, 0, "{out:?}");
    let at = |what: &str| {
        out.stdout
            .find(what)
            .unwrap_or_else(|| panic!("{what} missing:\n{}", out.stdout))
    };
    let order = [
        at("from --api-key"),
        at("else TINKER_API_KEY"),
        at("TINKER_CREDENTIAL_CMD"),
        at("~/.tinker/credentials.json"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);
}
