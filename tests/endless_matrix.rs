//! The endless-server matrix: servers that never give a usable answer (429 with any
//! Retry-After, 503, 402, 410 then 429, try_again, a dripping body, a hung credential
//! command) must not keep any line past `--timeout` (+ slack), single and batch, run and score.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli_score::score_args;
use crate::support::e2e::{parallel, run_args, Scratch};

/// How the fake server never finishes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Endless {
    Backpressure(&'static str),
    Unavailable,
    Billing,
    ExpiredThenBackpressure,
    TryAgain,
    Drip,
    HungCredential,
}

/// A server on 127.0.0.1 playing `mode` forever; stops when dropped.
struct Fake {
    url: String,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn start(mode: Endless) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            let submitted = Arc::new(AtomicBool::new(false));
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (flag, submitted) = (Arc::clone(&flag), Arc::clone(&submitted));
                        std::thread::spawn(move || serve(stream, mode, &flag, &submitted));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Fake { url, stop }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(stream: TcpStream, mode: Endless, stop: &AtomicBool, submitted: &AtomicBool) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while !stop.load(Ordering::SeqCst) {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if !answer(&mut out, &path, mode, stop, submitted) {
            return;
        }
    }
}

fn reply(out: &mut TcpStream, status: u16, extra: &str, body: &str) -> bool {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes()).is_ok() && out.write_all(body.as_bytes()).is_ok()
}

/// Answers one request; false when the connection should close.
fn answer(
    out: &mut TcpStream,
    path: &str,
    mode: Endless,
    stop: &AtomicBool,
    sub: &AtomicBool,
) -> bool {
    let pjwt = r#"{"pjwt_auth_enabled":true,"credential_default_source":"credential_cmd"}"#;
    match path {
        "/api/v1/client/config" if mode == Endless::HungCredential => reply(out, 200, "", pjwt),
        "/api/v1/client/config" => reply(out, 200, "", r#"{"pjwt_auth_enabled":false}"#),
        "/api/v1/create_session" => reply(out, 200, "", r#"{"session_id":"s"}"#),
        "/api/v1/create_sampling_session" => reply(out, 200, "", r#"{"sampling_session_id":"ss"}"#),
        "/api/v1/asample" => match mode {
            Endless::Backpressure(after) => {
                reply(out, 429, &format!("Retry-After: {after}\r\n"), "{}")
            }
            Endless::Unavailable => reply(out, 503, "", "{}"),
            Endless::Billing => reply(out, 402, "", "{}"),
            Endless::ExpiredThenBackpressure if sub.swap(true, Ordering::SeqCst) => {
                reply(out, 429, "", "{}")
            }
            _ => reply(out, 200, "", r#"{"request_id":"r1"}"#),
        },
        "/api/v1/retrieve_future" => match mode {
            Endless::ExpiredThenBackpressure => reply(out, 410, "", "{}"),
            Endless::Drip => {
                let head = "HTTP/1.1 200 X\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
                if out.write_all(head.as_bytes()).is_err() {
                    return false;
                }
                while !stop.load(Ordering::SeqCst) {
                    if out.write_all(b" ").is_err() {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                false
            }
            _ => reply(
                out,
                200,
                "",
                r#"{"type":"try_again","queue_state":"active"}"#,
            ),
        },
        _ => reply(out, 200, "", "{}"),
    }
}

const MODES: [Endless; 8] = [
    Endless::Backpressure("0"),
    Endless::Backpressure("3600"),
    Endless::Unavailable,
    Endless::Billing,
    Endless::ExpiredThenBackpressure,
    Endless::TryAgain,
    Endless::Drip,
    Endless::HungCredential,
];

/// `--timeout` of every case, in seconds.
const TIMEOUT: u64 = 2;

/// One case: `mode` × run/score × single/batch; how long the run took.
fn case(mode: Endless, score: bool, batch: bool) -> Duration {
    let fake = Fake::start(mode);
    let scratch = Scratch::new();
    let timeout = TIMEOUT.to_string();
    let mut extra: Vec<String> = vec!["--timeout".into(), timeout, "-q".into()];
    if batch {
        let lines = if score {
            "{\"context\": \"a\", \"choices\": [\" b\", \" c\"]}\n".repeat(4)
        } else {
            "{\"tokens\": [1, 2]}\n".repeat(4)
        };
        let input = scratch.file("in.jsonl", &lines);
        let out = scratch.join("out.jsonl").display().to_string();
        extra.extend(["--input".into(), input, "--output".into(), out]);
        extra.extend(["--parallel".into(), "4".into()]);
    } else if score {
        extra.extend(["--context", "a", "--continuation", " b"].map(String::from));
    } else {
        extra.extend(["--prompt", "[1, 2]", "--tokens-only"].map(String::from));
    }
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut args = if score {
        score_args(&fake.url, &refs)
    } else {
        let mut all = vec!["--base-model", "Qwen/Qwen3-8B", "--max-tokens", "2"];
        all.extend(&refs);
        run_args(&fake.url, &all)
    };
    // Real delays (no TINKEX_RETRY_SCALE): the SDK's 1 s backpressure loop itself must end.
    let mut env = Vec::new();
    if mode == Endless::HungCredential {
        // No key in hand: the credential command is the only source, and it hangs.
        let at = args.iter().position(|a| a == "--api-key").unwrap();
        args.drain(at..at + 2);
        env.push(("TINKER_CREDENTIAL_CMD", "sleep 100"));
    }
    let started = Instant::now();
    let outcome = scratch.run_env(&args, &env, Duration::from_secs(60));
    let took = started.elapsed();
    let (code, _, stderr) = outcome.parts();
    assert_ne!(code, 0, "{mode:?} score={score} batch={batch}: {stderr}");
    // A single run ends at --timeout; a batch's 4 lines run at once and each ends at its own
    // (a hung credential command ends the setup at --timeout). +1 s, +3 s for a busy machine.
    let limit = Duration::from_secs(TIMEOUT + 1 + 3);
    assert!(
        took <= limit,
        "{mode:?} score={score} batch={batch} took {took:?} (limit {limit:?}): {stderr}"
    );
    took
}

#[test]
fn every_endless_server_ends_within_the_timeout_single_and_batch_run_and_score() {
    let mut jobs = Vec::new();
    for mode in MODES {
        for score in [false, true] {
            for batch in [false, true] {
                jobs.push((mode, score, batch));
            }
        }
    }
    let started = Instant::now();
    let took = parallel(jobs, 8, |(mode, score, batch)| case(mode, score, batch));
    let max = took.iter().max().unwrap();
    eprintln!(
        "endless matrix: {} cases, longest {max:?} (--timeout {TIMEOUT} s), wall {:?}",
        took.len(),
        started.elapsed()
    );
}
