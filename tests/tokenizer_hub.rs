//! Downloads from a mock Hugging Face hub: headers, redirects, the cache they fill, and every failure.

use std::fs;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use mockito::Matcher;
use tinkex::tokenizer::{HubRetry, Tokenizer, TokenizerSpec};
use tinkex::{Category, Deadline};

use crate::support::tokenizer::{failure, hub, load_repo, tiny_bytes, COMMIT};

const PATH: &str = "/Org/Tiny/resolve/main/tokenizer.json";

#[test]
fn download_sends_the_token_fills_the_cache_and_is_not_repeated() {
    let mut server = mockito::Server::new();
    let mock = server
        .mock("GET", PATH)
        .match_header("authorization", "Bearer hf_test_token")
        .match_header("user-agent", Matcher::Regex("^tinkex/".into()))
        .with_header("x-repo-commit", COMMIT)
        .with_body(tiny_bytes())
        .expect(1)
        .create();
    let cache = tempfile::tempdir().unwrap();
    let settings = hub(cache.path(), &server.url(), Some("hf_test_token"), false);
    let tok = load_repo("Org/Tiny", &settings).unwrap();
    assert_eq!(tok.encode("hello").unwrap(), vec![0]);
    let repo = cache.path().join("models--Org--Tiny");
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), COMMIT);
    let snapshot = repo.join(format!("snapshots/{COMMIT}"));
    assert_eq!(
        fs::read(snapshot.join("tokenizer.json")).unwrap(),
        tiny_bytes()
    );
    assert_eq!(
        fs::read_dir(&snapshot).unwrap().count(),
        1,
        "no temp files left"
    );
    // The second load is served by the cache: still exactly one request.
    load_repo("Org/Tiny", &settings).unwrap();
    mock.assert();
}

#[test]
fn without_a_token_no_authorization_is_sent() {
    let mut server = mockito::Server::new();
    let mock = server
        .mock("GET", PATH)
        .match_header("authorization", Matcher::Missing)
        .with_header("x-repo-commit", COMMIT)
        .with_body(tiny_bytes())
        .create();
    let cache = tempfile::tempdir().unwrap();
    load_repo("Org/Tiny", &hub(cache.path(), &server.url(), None, false)).unwrap();
    mock.assert();
}

#[test]
fn redirect_to_another_host_drops_authorization_and_keeps_the_first_commit() {
    let mut hub_server = mockito::Server::new();
    let mut cdn = mockito::Server::new();
    let redirect = hub_server
        .mock("GET", PATH)
        .match_header("authorization", "Bearer hf_test_token")
        .with_status(302)
        .with_header("x-repo-commit", COMMIT)
        .with_header("location", &format!("{}/blob/abc?signature=xyz", cdn.url()))
        .create();
    let file = cdn
        .mock("GET", "/blob/abc?signature=xyz")
        .match_header("authorization", Matcher::Missing)
        .with_header("x-repo-commit", "ffffffffffffffffffffffffffffffffffffffff")
        .with_body(tiny_bytes())
        .create();
    let cache = tempfile::tempdir().unwrap();
    let settings = hub(
        cache.path(),
        &hub_server.url(),
        Some("hf_test_token"),
        false,
    );
    load_repo("Org/Tiny", &settings).unwrap();
    redirect.assert();
    file.assert();
    let refs = cache.path().join("models--Org--Tiny/refs/main");
    assert_eq!(fs::read_to_string(refs).unwrap(), COMMIT);
}

#[test]
fn relative_redirect_on_the_same_host_keeps_authorization() {
    let mut server = mockito::Server::new();
    let redirect = server
        .mock("GET", PATH)
        .with_status(307)
        .with_header("x-repo-commit", COMMIT)
        .with_header("location", "/api/resolve-cache/Org/Tiny/tokenizer.json")
        .create();
    let file = server
        .mock("GET", "/api/resolve-cache/Org/Tiny/tokenizer.json")
        .match_header("authorization", "Bearer hf_test_token")
        .with_body(tiny_bytes())
        .create();
    let cache = tempfile::tempdir().unwrap();
    load_repo(
        "Org/Tiny",
        &hub(cache.path(), &server.url(), Some("hf_test_token"), false),
    )
    .unwrap();
    redirect.assert();
    file.assert();
}

#[test]
fn a_redirect_loop_stops_as_a_server_error() {
    let mut server = mockito::Server::new();
    let looping = server
        .mock("GET", PATH)
        .with_status(302)
        .with_header("location", PATH)
        .expect(6)
        .create();
    let cache = tempfile::tempdir().unwrap();
    let result = load_repo("Org/Tiny", &hub(cache.path(), &server.url(), None, false));
    let (category, message) = failure(result, "Org/Tiny");
    assert_eq!(category, Category::Server);
    assert!(
        message.contains("redirected more than 5 times"),
        "{message}"
    );
    looping.assert();
}

fn status_failure(
    repo: &str,
    status: usize,
    error_code: Option<&str>,
    token: Option<&str>,
) -> (Category, String) {
    let mut server = mockito::Server::new();
    let mut mock = server
        .mock(
            "GET",
            format!("/{repo}/resolve/main/tokenizer.json").as_str(),
        )
        .with_status(status);
    if let Some(code) = error_code {
        mock = mock.with_header("x-error-code", code);
    }
    let mock = mock.expect(1).create();
    let cache = tempfile::tempdir().unwrap();
    let result = load_repo(repo, &hub(cache.path(), &server.url(), token, false));
    mock.assert();
    assert!(!cache
        .path()
        .join(format!("models--{}", repo.replace('/', "--")))
        .exists());
    failure(result, repo)
}

#[test]
fn gated_repos_are_user_errors_that_mention_hf_token() {
    let (category, message) = status_failure("Org/Gated", 401, Some("GatedRepo"), None);
    assert_eq!(category, Category::User);
    assert!(
        message.contains("gated") && message.contains("set HF_TOKEN"),
        "{message}"
    );
    let (category, message) = status_failure("Org/Gated", 403, None, Some("hf_secret_token"));
    assert_eq!(category, Category::User);
    assert!(message.contains("HF_TOKEN was refused"), "{message}");
    assert!(
        !message.contains("hf_secret_token"),
        "the token leaked: {message}"
    );
}

#[test]
fn missing_tokenizer_json_is_a_user_error() {
    let (category, message) = status_failure("Org/NoJson", 404, Some("EntryNotFound"), None);
    assert_eq!(category, Category::User);
    assert!(
        message.contains("Org/NoJson has no tokenizer.json at revision main (HTTP 404)"),
        "{message}"
    );
    let (_, message) = status_failure(
        "moonshotai/Kimi-K2-Instruct",
        404,
        Some("EntryNotFound"),
        None,
    );
    assert!(
        message.contains("Kimi repositories ship tiktoken.model"),
        "{message}"
    );
    let (category, message) = status_failure("Org/Nope", 404, Some("RepoNotFound"), None);
    assert_eq!(category, Category::User);
    assert!(
        message.contains("Org/Nope was not found on the hub"),
        "{message}"
    );
}

#[test]
fn hub_5xx_is_retried_then_a_server_error() {
    let mut server = mockito::Server::new();
    let mock = server.mock("GET", PATH).with_status(503).expect(3).create();
    let cache = tempfile::tempdir().unwrap();
    let (category, message) = failure(
        load_repo("Org/Tiny", &hub(cache.path(), &server.url(), None, false)),
        "Org/Tiny",
    );
    mock.assert();
    assert_eq!(category, Category::Server);
    assert!(
        message.contains("after 3 attempts: the hub answered HTTP 503"),
        "{message}"
    );
}

#[test]
fn a_transient_5xx_is_retried_into_success() {
    let mut server = mockito::Server::new();
    let failing = server.mock("GET", PATH).with_status(502).expect(1).create();
    let ok = server
        .mock("GET", PATH)
        .with_header("x-repo-commit", COMMIT)
        .with_body(tiny_bytes())
        .expect(1)
        .create();
    let cache = tempfile::tempdir().unwrap();
    load_repo("Org/Tiny", &hub(cache.path(), &server.url(), None, false)).unwrap();
    failing.assert();
    ok.assert();
}

#[test]
fn connection_refused_is_a_server_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = tempfile::tempdir().unwrap();
    let settings = hub(
        cache.path(),
        &format!("http://127.0.0.1:{port}"),
        None,
        false,
    );
    let err = load_repo("Org/Tiny", &settings).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let (category, message) = failure(Err(err), "Org/Tiny");
    assert_eq!(category, Category::Server);
    assert!(message.contains("failed after 3 attempts"), "{message}");
}

#[test]
fn a_silent_hub_ends_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // Accept and hold the connection without answering, until the test is over.
    std::thread::spawn(move || {
        let held = listener.accept();
        std::thread::sleep(Duration::from_secs(10));
        drop(held);
    });
    let cache = tempfile::tempdir().unwrap();
    let deadline = Deadline::after(Duration::from_millis(300));
    let spec = TokenizerSpec::Repo("Org/Tiny".into());
    let settings = hub(cache.path(), &endpoint, None, false);
    let started = Instant::now();
    let result = Tokenizer::load_with(
        &spec,
        &settings,
        &deadline,
        &crate::support::tokenizer::fast_retry(),
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let (category, message) = failure(result, "Org/Tiny");
    assert_eq!(category, Category::Timeout);
    assert!(
        message.contains("timed out after 0 s while downloading tokenizer.json of Org/Tiny"),
        "{message}"
    );
}

#[test]
fn a_back_off_longer_than_the_deadline_fails_at_once() {
    let mut server = mockito::Server::new();
    let mock = server.mock("GET", PATH).with_status(503).expect(1).create();
    let cache = tempfile::tempdir().unwrap();
    let retry = HubRetry {
        attempts: 3,
        first_backoff: Duration::from_secs(60),
    };
    let spec = TokenizerSpec::Repo("Org/Tiny".into());
    let settings = hub(cache.path(), &server.url(), None, false);
    let started = Instant::now();
    let result = Tokenizer::load_with(
        &spec,
        &settings,
        &Deadline::after(Duration::from_secs(5)),
        &retry,
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    mock.assert();
    let err = result.unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
}

#[test]
fn a_corrupt_download_is_a_user_error_and_never_cached() {
    let mut server = mockito::Server::new();
    server
        .mock("GET", PATH)
        .with_header("x-repo-commit", COMMIT)
        .with_body("{\"model\": {\"type\": ")
        .create();
    let cache = tempfile::tempdir().unwrap();
    let result = load_repo("Org/Tiny", &hub(cache.path(), &server.url(), None, false));
    let (category, message) = failure(result, "Org/Tiny");
    assert_eq!(category, Category::User);
    assert!(
        message.contains("tokenizer.json downloaded from http://127.0.0.1"),
        "{message}"
    );
    assert!(
        message.contains("is not a valid tokenizer.json"),
        "{message}"
    );
    assert!(!cache.path().join("models--Org--Tiny").exists());
}

#[test]
fn without_a_commit_header_the_file_is_used_but_not_cached() {
    let mut server = mockito::Server::new();
    let mock = server
        .mock("GET", PATH)
        .with_body(tiny_bytes())
        .expect(2)
        .create();
    let cache = tempfile::tempdir().unwrap();
    let settings = hub(cache.path(), &server.url(), None, false);
    load_repo("Org/Tiny", &settings).unwrap();
    load_repo("Org/Tiny", &settings).unwrap();
    mock.assert();
    assert!(!cache.path().join("models--Org--Tiny").exists());
}
