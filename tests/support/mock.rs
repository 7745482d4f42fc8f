//! A mockito Tinker API for CLI tests: the setup endpoints answered, sampling added per test.

use std::process::Command;
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;

use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::json;

use super::run::{clean_command, tinkex, Tinkex};
use super::{with_args, KEY};

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

    /// A server answering any `asample` as `req-1` and every poll with `result`; the receiver
    /// hears of each poll as it arrives, so a test can wait for the run to be mid-sample.
    pub fn polled(result: &str) -> (MockTinker, Receiver<()>) {
        let mut api = MockTinker::new();
        api.asample(Matcher::Any);
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let body = result.as_bytes().to_vec();
        let poll = api
            .server
            .mock("POST", "/api/v1/retrieve_future")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |_| {
                let _ = tx.lock().unwrap().send(());
                body.clone()
            })
            .create();
        api.mocks.push(poll);
        (api, rx)
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

    /// A bare `tinkex` command against this server (clean environment, `HOME` as given, no
    /// stdio set up), for tests that signal or kill the child or close its pipes.
    pub fn command(&self, extra: &[&str], home: &std::path::Path) -> Command {
        clean_command(&with_args(&self.args(), extra), home)
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
