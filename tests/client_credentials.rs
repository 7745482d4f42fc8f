//! Credential sources in the SDK's order (flag, TINKER_API_KEY, TINKER_CREDENTIAL_CMD, the
//! stored login), what each request carries, and every way a source can be bad.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mockito::Server;
use tempfile::TempDir;
use tinkex::client::{Config, RetryPolicy, ServiceClient};
use tinkex::{Deadline, Error};

use crate::support::client::*;

const FLAG_KEY: &str = "tml-flag-key-0123456789";
const ENV_KEY: &str = "tml-env-key-0123456789";
const STORED_KEY: &str = "tml-stored-key-0123456789";

/// A temp HOME, an environment to look variables up in, and a counter for command runs.
struct Host {
    home: TempDir,
    vars: HashMap<String, String>,
}

impl Host {
    /// An empty environment whose HOME is a fresh temp dir with nothing stored.
    fn new() -> Host {
        let home = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("HOME".to_string(), home.path().display().to_string());
        Host { home, vars }
    }

    fn set(mut self, name: &str, value: &str) -> Host {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Writes `~/.tinker/credentials.json`.
    fn stored(self, text: &str) -> Host {
        let dir = self.home.path().join(".tinker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("credentials.json"), text).unwrap();
        self
    }

    /// A login file whose default key is `key`.
    fn login(self, key: &str) -> Host {
        self.stored(&format!(
            r#"{{"version":1,"default":"work","keys":{{"work":{{"type":"manual","key":"{key}","name":"work"}}}}}}"#
        ))
    }

    /// A credential command printing `tml-cmd-<run number>-0123456789`, counting its runs.
    fn counting_command(self) -> Host {
        let counter = self.counter();
        let line = format!(
            "echo run >> '{0}'; echo \"tml-cmd-$(wc -l < '{0}' | tr -d ' ')-0123456789\"",
            counter.display()
        );
        self.set("TINKER_CREDENTIAL_CMD", &line)
    }

    fn counter(&self) -> PathBuf {
        self.home.path().join("runs")
    }

    /// How many times the counting command ran.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.counter())
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }

    fn config(&self, flag: Option<&str>, server: &Server) -> tinkex::Result<Config> {
        let vars = self.vars.clone();
        let lookup = move |name: &str| vars.get(name).cloned();
        let deadline = Deadline::after(Duration::from_secs(20));
        let config = Config::from_lookup(
            flag.map(String::from),
            Some(server.url()),
            deadline,
            1,
            &lookup,
        )?;
        Ok(fast(config))
    }
}

fn fast(mut config: Config) -> Config {
    config.retry = RetryPolicy::scaled(0.0);
    config.with_heartbeat_interval(Duration::from_secs(3600))
}

/// The n-th credential the counting command prints.
fn cmd_key(run: usize) -> String {
    format!("tml-cmd-{run}-0123456789")
}

/// Config answering `flags`, plus session, sampling session and heartbeat.
fn mocks(server: &mut Server, log: &Log, flags: &str) {
    for (path, body) in [
        ("/api/v1/client/config", flags),
        ("/api/v1/create_session", r#"{"session_id":"sess-1"}"#),
        (
            "/api/v1/create_sampling_session",
            r#"{"sampling_session_id":"samp-1"}"#,
        ),
    ] {
        post(server, log, path, 200, body).create();
    }
    post(server, log, "/api/v1/session_heartbeat", 200, "{}")
        .expect_at_least(0)
        .create();
}

/// The `X-API-Key` of every request to `path`.
fn keys_to(log: &Log, path: &str) -> Vec<String> {
    log.to(path)
        .into_iter()
        .map(|seen| seen.headers["x-api-key"].clone())
        .collect()
}

/// Opens a session with the config `host` resolves and returns the request log.
fn session_with(host: &Host, flag: Option<&str>, flags: &str, tokens: &[&str]) -> Log {
    let mut server = Server::new();
    let log = Log::default();
    mocks(&mut server, &log, flags);
    exchanges(&mut server, &log, tokens);
    let config = host.config(flag, &server).expect("a credential is found");
    connect(config);
    log
}

/// Asserts that `key` and only `key` went to the server (no JWT mode).
fn only_key_sent(log: &Log, key: &str) {
    let all = log.all();
    assert!(all.len() >= 3, "{:?}", log.paths());
    for seen in all {
        assert_eq!(seen.headers["x-api-key"], key, "{}", seen.path);
    }
}

#[test]
fn the_flag_beats_the_environment_and_the_environment_beats_no_flag() {
    let host = Host::new().set("TINKER_API_KEY", ENV_KEY).login(STORED_KEY);
    only_key_sent(&session_with(&host, Some(FLAG_KEY), "{}", &[]), FLAG_KEY);
    only_key_sent(&session_with(&host, None, "{}", &[]), ENV_KEY);
    // An empty flag counts as unset.
    only_key_sent(&session_with(&host, Some("  "), "{}", &[]), ENV_KEY);
}

#[test]
fn the_environment_beats_the_command_which_then_never_runs() {
    let host = Host::new()
        .set("TINKER_API_KEY", ENV_KEY)
        .counting_command();
    only_key_sent(&session_with(&host, None, "{}", &[]), ENV_KEY);
    let jwt_flags = r#"{"pjwt_auth_enabled":true}"#;
    let token = jwt(now() + 3600, "env");
    let log = session_with(&host, None, jwt_flags, &[&token]);
    assert_eq!(keys_to(&log, "/api/v1/auth/token"), vec![ENV_KEY]);
    assert_eq!(keys_to(&log, "/api/v1/create_session"), vec![token]);
    assert_eq!(host.runs(), 0, "the command ran though a key was in hand");
}

#[test]
fn the_command_beats_the_stored_key_and_is_run_per_credential_needed() {
    let host = Host::new().login(STORED_KEY).counting_command();
    let token = jwt(now() + 3600, "cmd");
    let log = session_with(&host, None, r#"{"pjwt_auth_enabled":true}"#, &[&token]);
    assert_eq!(keys_to(&log, "/api/v1/client/config"), vec![cmd_key(1)]);
    assert_eq!(keys_to(&log, "/api/v1/auth/token"), vec![cmd_key(2)]);
    assert_eq!(keys_to(&log, "/api/v1/create_session"), vec![token.clone()]);
    assert_eq!(
        keys_to(&log, "/api/v1/create_sampling_session"),
        vec![token]
    );
    assert_eq!(host.runs(), 2);
    assert!(log
        .all()
        .iter()
        .all(|s| s.headers["x-api-key"] != STORED_KEY));
}

#[test]
fn the_stored_key_serves_when_nothing_else_is_set() {
    let host = Host::new().login(STORED_KEY);
    only_key_sent(&session_with(&host, None, "{}", &[]), STORED_KEY);
}

#[test]
fn a_bad_prefix_key_gives_way_to_the_command() {
    let token = jwt(now() + 3600, "fallback");
    let flags = r#"{"pjwt_auth_enabled":true}"#;
    let host = Host::new()
        .set("TINKER_API_KEY", "sk-bad-prefix-env-key")
        .counting_command();
    let log = session_with(&host, None, flags, &[&token]);
    assert_eq!(keys_to(&log, "/api/v1/client/config"), vec![cmd_key(1)]);
    let log = session_with(&host, Some("sk-bad-prefix-flag-key"), flags, &[&token]);
    assert_eq!(keys_to(&log, "/api/v1/client/config"), vec![cmd_key(3)]);
    // Without a command the same key is refused, naming its source but not its value.
    let host = Host::new().set("TINKER_API_KEY", "sk-bad-prefix-env-key");
    let err = host.config(None, &Server::new()).unwrap_err();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("TINKER_API_KEY"), "{err}");
    assert!(!err.to_string().contains("sk-bad"), "{err}");
}

#[test]
fn nothing_found_lists_every_way_to_give_a_credential() {
    let server = Server::new();
    let cases = [
        Host::new(),
        Host::new().set("HOME", ""),
        Host::new()
            .set("TINKER_API_KEY", "")
            .set("TINKER_CREDENTIAL_CMD", " "),
        Host::new().stored(r#"{"version":1,"default":null,"keys":{}}"#),
        Host::new().stored(r#"{"default":"gone","keys":{"w":{"key":"tml-other-0123456"}}}"#),
    ];
    for host in cases {
        let err = host.config(None, &server).unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        let hint = err.hint().unwrap();
        for way in [
            "--api-key",
            "TINKER_API_KEY",
            "TINKER_CREDENTIAL_CMD",
            "tinker auth login",
        ] {
            assert!(hint.contains(way), "{hint}");
        }
    }
}

#[test]
fn the_command_is_run_again_for_each_exchange() {
    let host = Host::new().counting_command();
    // The first JWT is within 60 s of expiry, so the next request refreshes it.
    let (short, long) = (jwt(now() + 30, "short"), jwt(now() + 3600, "long"));
    let log = session_with(
        &host,
        None,
        r#"{"pjwt_auth_enabled":true}"#,
        &[&short, &long],
    );
    assert_eq!(
        keys_to(&log, "/api/v1/auth/token"),
        vec![cmd_key(2), cmd_key(3)]
    );
    assert_eq!(keys_to(&log, "/api/v1/create_session"), vec![long]);
    assert_eq!(host.runs(), 3);
}

#[test]
fn credential_default_source_credential_cmd_exchanges_the_commands_credential() {
    let host = Host::new()
        .set("TINKER_API_KEY", ENV_KEY)
        .counting_command();
    let token = jwt(now() + 3600, "dflt");
    let flags = r#"{"pjwt_auth_enabled":true,"credential_default_source":"credential_cmd"}"#;
    let log = session_with(&host, None, flags, &[&token]);
    assert_eq!(keys_to(&log, "/api/v1/client/config"), vec![ENV_KEY]);
    assert_eq!(keys_to(&log, "/api/v1/auth/token"), vec![cmd_key(1)]);
    assert_eq!(keys_to(&log, "/api/v1/create_session"), vec![token]);
    assert_eq!(host.runs(), 1);
}

#[test]
fn a_jwt_in_hand_is_used_as_it_is_even_when_the_command_is_the_default_source() {
    let key = jwt(now() + 3600, "inhand");
    let host = Host::new().set("TINKER_API_KEY", &key).counting_command();
    let flags = r#"{"pjwt_auth_enabled":true,"credential_default_source":"credential_cmd"}"#;
    let log = session_with(&host, None, flags, &[]);
    assert!(log.to("/api/v1/auth/token").is_empty());
    only_key_sent(&log, &key);
    assert_eq!(host.runs(), 0);
}

#[test]
fn a_command_printing_a_jwt_needs_no_exchange() {
    let token = jwt(now() + 3600, "printed");
    let host = Host::new().set("TINKER_CREDENTIAL_CMD", &format!("echo '{token}'"));
    let log = session_with(&host, None, r#"{"pjwt_auth_enabled":true}"#, &[]);
    assert!(log.to("/api/v1/auth/token").is_empty());
    only_key_sent(&log, &token);
}

#[test]
fn a_command_alone_cannot_serve_without_jwt_auth() {
    let host = Host::new().counting_command();
    let mut server = Server::new();
    let log = Log::default();
    mocks(&mut server, &log, "{}");
    let err = ServiceClient::new(host.config(None, &server).unwrap()).unwrap_err();
    assert_eq!(err.exit_code(), 3);
    let text = err.to_string();
    assert!(text.contains("TINKER_CREDENTIAL_CMD"), "{text}");
    assert!(text.contains("pjwt_auth_enabled"), "{text}");
    assert!(!text.contains("tml-cmd"), "{text}");
    assert_eq!(log.paths(), vec!["/api/v1/client/config"]);
}

/// A session attempt with only `command` set, against a server that enables JWT auth.
fn command_only_error(command: &str) -> (Error, Log) {
    let host = Host::new().set("TINKER_CREDENTIAL_CMD", command);
    let mut server = Server::new();
    let log = Log::default();
    mocks(&mut server, &log, r#"{"pjwt_auth_enabled":true}"#);
    let err = ServiceClient::new(host.config(None, &server).unwrap()).unwrap_err();
    (err, log)
}

#[test]
fn a_failing_empty_or_expired_command_is_an_auth_error_that_hides_its_output() {
    let expired = jwt(now() - 10, "old");
    let cases = [
        (
            "echo tml-printed-before-failing-1234; exit 7".to_string(),
            "failed",
        ),
        ("printf '\\n'".to_string(), "printed nothing"),
        (format!("echo '{expired}'"), "JWT that has expired"),
    ];
    for (command, expected) in cases {
        let (err, log) = command_only_error(&command);
        assert_eq!(err.exit_code(), 3, "{err}");
        let text = format!("{err} {}", err.hint().unwrap_or(""));
        assert!(text.contains("TINKER_CREDENTIAL_CMD"), "{text}");
        assert!(text.contains(expected), "{text}");
        assert!(
            !text.contains("tml-printed") && !text.contains(&expired),
            "{text}"
        );
        assert!(
            log.all().is_empty(),
            "a request was sent: {:?}",
            log.paths()
        );
    }
}

#[test]
fn a_hung_command_ends_at_the_deadline() {
    let host = Host::new().set("TINKER_CREDENTIAL_CMD", "sleep 20");
    let server = Server::new();
    let mut config = host.config(None, &server).unwrap();
    config.deadline = Deadline::after(Duration::from_millis(300));
    let started = Instant::now();
    let err = ServiceClient::new(config).unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(err.to_string().contains("TINKER_CREDENTIAL_CMD"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn an_expired_jwt_key_is_refused_before_any_request() {
    let expired = jwt(now() - 60, "stale");
    let server = Server::new();
    for (host, flag, source) in [
        (Host::new(), Some(expired.as_str()), "--api-key"),
        (
            Host::new().set("TINKER_API_KEY", &expired),
            None,
            "TINKER_API_KEY",
        ),
        (Host::new().login(&expired), None, "credentials.json"),
        // An expired key is not a bad prefix: it does not fall back to the command.
        (
            Host::new()
                .set("TINKER_API_KEY", &expired)
                .counting_command(),
            None,
            "TINKER_API_KEY",
        ),
    ] {
        let err = host.config(flag, &server).unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        assert!(err.to_string().contains("JWT that has expired"), "{err}");
        assert!(err.to_string().contains(source), "{err}");
        assert!(!err.to_string().contains(&expired), "{err}");
    }
    // A library-built config is checked the same way, still before any request.
    let err = ServiceClient::new(fast(Config::new(expired.clone(), server.url()))).unwrap_err();
    assert_eq!(err.exit_code(), 3);
}

fn stored_error(host: Host) -> (String, PathBuf) {
    let path = host.home.path().join(".tinker/credentials.json");
    let err = host.config(None, &Server::new()).unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    (err.to_string(), path)
}

#[test]
fn a_malformed_or_unreadable_credentials_file_names_the_file_not_its_contents() {
    let cases = [
        (
            r#"{"default":"w","keys":{"w":{"key":"tml-secret-stored-1"}"#,
            "not valid JSON",
        ),
        (r#"["tml-secret-stored-1"]"#, "JSON object"),
        (
            r#"{"default":"w","keys":{"w":{"token":"tml-secret-stored-1"}}}"#,
            "\"key\"",
        ),
        (
            r#"{"default":"w","keys":{"w":{"key":"sk-secret-stored-1"}}}"#,
            "'tml-'",
        ),
    ];
    for (text, expected) in cases {
        let (message, path) = stored_error(Host::new().stored(text));
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains("secret-stored"), "{message}");
    }
    let host = Host::new();
    std::fs::create_dir_all(host.home.path().join(".tinker/credentials.json")).unwrap();
    let (message, _) = stored_error(host);
    assert!(message.contains("cannot be read"), "{message}");
}

#[test]
fn the_credentials_file_is_ignored_when_a_command_is_set() {
    let host = Host::new()
        .stored("not json at all")
        .set("TINKER_CREDENTIAL_CMD", "echo tml-from-command-0123");
    let config = host.config(None, &Server::new()).unwrap();
    assert_eq!(config.api_key, "");
    assert!(config.credential_cmd.is_some());
    assert!(!format!("{config:?}").contains("tml-from-command"));
}

#[test]
fn the_credentials_file_is_only_read() {
    let host = Host::new().login(STORED_KEY);
    let path = host.home.path().join(".tinker/credentials.json");
    let before = std::fs::read(&path).unwrap();
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    only_key_sent(&session_with(&host, None, "{}", &[]), STORED_KEY);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(entries(host.home.path().join(".tinker").as_path()), 1);
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}
