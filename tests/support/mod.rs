//! Shared test helpers: run the built binary in a clean environment, and a mock Tinker API.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::{json, Value};

/// A test API key with the right prefix.
pub const KEY: &str = "tml-test-key-0123456789abcdef";

/// Path of a file under `fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

/// The small byte-level BPE tokenizer built by tools/gen_small_tokenizer.py.
pub fn small_tokenizer() -> String {
    fixture("small/tokenizer.json").display().to_string()
}

/// The Qwen3 tokenizer fixture.
pub fn qwen3_tokenizer() -> String {
    fixture("qwen3/tokenizer.json").display().to_string()
}

/// The messages of conversation `name` in fixtures/chat/conversations.json.
pub fn conversation(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture("chat/conversations.json")).unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    let conv = data["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap();
    conv["messages"].clone()
}

/// A chat run of `Qwen/Qwen3-8B` with the prompt "hi" and tokenizer `tok`, then `extra`.
pub fn qwen3_chat_hi<'a>(tok: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let args = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--chat",
        "--prompt",
        "hi",
        "--tokenizer",
        tok,
    ];
    args.iter().chain(extra).copied().collect()
}

/// The hint printed after every usage error of `tinkex run`.
pub const HINT: &str = "tinkex: hint: run 'tinkex run --help' for the flags and an example\n";

/// Runs `args` expecting a usage error: exit 2, nothing on stdout, `message` then the hint.
pub fn usage_error(args: &[&str], message: &str) {
    let out = tinkex(args).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, format!("tinkex: error: {message}\n{HINT}"));
}

/// What a finished process left behind.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Outcome {
    /// Exit code, stdout and stderr together, for one exact comparison.
    pub fn parts(&self) -> (i32, &str, &str) {
        (self.code, &self.stdout, &self.stderr)
    }
}

/// A `tinkex` invocation under construction, with an environment holding nothing of the host's.
pub struct Tinkex {
    command: Command,
    stdin: Option<Vec<u8>>,
    _home: tempfile::TempDir,
}

/// Starts building a `tinkex` run with these arguments.
pub fn tinkex(args: &[&str]) -> Tinkex {
    let home = tempfile::tempdir().expect("temp HOME");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tinkex"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("HF_HUB_OFFLINE", "1")
        .env("TINKEX_RETRY_SCALE", "0")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    Tinkex {
        command,
        stdin: None,
        _home: home,
    }
}

impl Tinkex {
    /// Sets an environment variable for the child.
    pub fn env(mut self, key: &str, value: &str) -> Tinkex {
        self.command.env(key, value);
        self
    }

    /// Feeds `bytes` on stdin.
    pub fn stdin(mut self, bytes: &[u8]) -> Tinkex {
        self.stdin = Some(bytes.to_vec());
        self
    }

    /// Runs to completion and collects the outcome.
    pub fn run(mut self) -> Outcome {
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.command.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = self.command.spawn().expect("spawn tinkex");
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let output = child.wait_with_output().expect("wait for tinkex");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A mock Tinker API with the setup endpoints answered; tests add the sampling ones.
pub struct MockTinker {
    /// The mockito server.
    pub server: ServerGuard,
    /// Mocks kept alive for the server's lifetime.
    pub mocks: Vec<Mock>,
}

impl MockTinker {
    /// A server whose config, session, heartbeat, sampling-session and finish calls succeed.
    pub fn new() -> MockTinker {
        let mut server = Server::new();
        let json = |mock: Mock, body: &str| {
            mock.with_status(200)
                .with_header("content-type", "application/json")
                .with_body(body)
                .create()
        };
        let mocks = vec![
            json(server.mock("POST", "/api/v1/client/config"), "{}"),
            json(
                server.mock("POST", "/api/v1/create_session"),
                r#"{"session_id":"sess-1"}"#,
            ),
            json(server.mock("POST", "/api/v1/session_heartbeat"), "{}"),
            json(
                server.mock("POST", "/api/v1/create_sampling_session"),
                r#"{"sampling_session_id":"samp-1"}"#,
            ),
            json(
                server.mock(
                    "POST",
                    Matcher::Regex("^/api/v1/sessions/.*/finish$".into()),
                ),
                "{}",
            ),
        ];
        MockTinker { server, mocks }
    }

    /// The base URL to pass as `--base-url`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Answers `asample` with a request id; returns the mock so tests can assert the body.
    pub fn asample(&mut self, body_matcher: Matcher) -> Mock {
        self.server
            .mock("POST", "/api/v1/asample")
            .match_body(body_matcher)
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"request_id":"req-1","model_id":null,"sample_sequence_ids":[]}"#)
            .create()
    }

    /// Answers `retrieve_future` with this JSON result.
    pub fn result(&mut self, body: &str) -> Mock {
        self.server
            .mock("POST", "/api/v1/retrieve_future")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(body)
            .create()
    }

    /// A server answering any `asample` as `req-1` and every poll with `result`.
    pub fn answering(result: &str) -> MockTinker {
        let mut api = MockTinker::new();
        api.asample(Matcher::Any);
        api.result(result);
        api
    }

    /// Answers `asample` bodies matching `prompt` as `request_id` (`expect` times, when given)
    /// and polls for `request_id` with `result`; both mocks are kept in `mocks`, in that order.
    pub fn route(
        &mut self,
        prompt: Matcher,
        request_id: &str,
        result: &str,
        expect: Option<usize>,
    ) {
        let mut asample = self
            .server
            .mock("POST", "/api/v1/asample")
            .match_body(prompt)
            .with_header("content-type", "application/json")
            .with_body(json!({ "request_id": request_id }).to_string());
        if let Some(times) = expect {
            asample = asample.expect(times);
        }
        let asample = asample.create();
        let result = self
            .server
            .mock("POST", "/api/v1/retrieve_future")
            .match_body(Matcher::PartialJson(json!({ "request_id": request_id })))
            .with_header("content-type", "application/json")
            .with_body(result)
            .create();
        self.mocks.extend([asample, result]);
    }

    /// The common arguments for a run against this server.
    pub fn args(&self) -> Vec<String> {
        run_args(&self.url())
    }

    /// A bare `tinkex` command against this server (empty environment, no stdio set up), for
    /// tests that signal or kill the child or close its pipes.
    pub fn command(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tinkex"));
        command.args(with_args(&self.args(), extra)).env_clear();
        command
    }

    /// A `tinkex` run against this server with `extra` after the common arguments.
    pub fn tinkex(&self, extra: &[&str]) -> Tinkex {
        tinkex(&with_args(&self.args(), extra))
    }
}

/// A `tinkex` run against the server at `url` with `extra` after the common arguments.
pub fn tinkex_at(url: &str, extra: &[&str]) -> Tinkex {
    tinkex(&with_args(&run_args(url), extra))
}

/// `run --base-url URL --api-key KEY`, the start of every run against a mock server.
pub fn run_args(url: &str) -> Vec<String> {
    vec![
        "run".into(),
        "--base-url".into(),
        url.into(),
        "--api-key".into(),
        KEY.into(),
    ]
}

/// Writes `lines` as `dir/in.jsonl`; returns its path.
pub fn write_input(dir: &Path, lines: &[&str]) -> String {
    let path = dir.join("in.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

/// Each line of `text` parsed as JSON.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Joins owned and borrowed arguments for [`tinkex`].
pub fn with_args<'a>(base: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}
