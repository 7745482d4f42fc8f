//! Helpers of the hostile batch CLI tests (tests/hostile_batch_cli.rs): a slow fake Tinker API (every connection on its own
//! thread, so many prompts can wait out the latency at once; one prompt answered 401), and
//! spawning, signalling and watching the binary and its children.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::run::clean_command;

/// The server; stops accepting when dropped (connections in progress finish on their own).
pub struct SlowApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// How many `asample` calls arrived.
    pub asamples: Arc<AtomicUsize>,
    closed: Arc<AtomicBool>,
}

impl SlowApi {
    /// Answers every `asample` after `latency`, the one whose first token is `unauthorized`
    /// with 401; each result is the prompt's token times ten.
    pub fn start(latency: Duration, unauthorized: Option<u64>) -> SlowApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asamples = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicBool::new(false));
        let (count, stop) = (Arc::clone(&asamples), Arc::clone(&closed));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let count = Arc::clone(&count);
                thread::spawn(move || serve(stream, latency, unauthorized, &count));
            }
        });
        SlowApi {
            url,
            asamples,
            closed,
        }
    }
}

impl Drop for SlowApi {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// Serves the requests of one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, latency: Duration, unauthorized: Option<u64>, count: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    while let Some((path, body)) = read_request(&mut reader) {
        let (status, answer) = answer(&path, &body, latency, unauthorized, count);
        let body = answer.to_string();
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(body.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// The path and body of the next request; None at the end of the connection.
fn read_request(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let path = line.split(' ').nth(1)?.to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok().filter(|n| *n > 0)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, body))
}

fn answer(
    path: &str,
    body: &[u8],
    latency: Duration,
    unauthorized: Option<u64>,
    count: &AtomicUsize,
) -> (u16, Value) {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match path {
        "/api/v1/create_session" => (200, json!({"session_id": "sess-1"})),
        "/api/v1/create_sampling_session" => (200, json!({"sampling_session_id": "samp-1"})),
        "/api/v1/asample" => {
            count.fetch_add(1, Ordering::SeqCst);
            thread::sleep(latency);
            let token = body["prompt"]["chunks"][0]["tokens"][0]
                .as_u64()
                .unwrap_or(0);
            if unauthorized == Some(token) {
                return (401, json!({"detail": "Invalid API key"}));
            }
            (200, json!({"request_id": format!("req-{token}")}))
        }
        "/api/v1/retrieve_future" => {
            let id = body["request_id"].as_str().unwrap_or("req-0");
            let n: u64 = id.trim_start_matches("req-").parse().unwrap_or(0);
            let sequence = json!({"tokens": [n * 10], "logprobs": [-1.0], "stop_reason": "length"});
            (200, json!({"sequences": [sequence]}))
        }
        _ => (200, json!({})),
    }
}

/// `tinkex ARGS` with a clean environment plus `env`, stdin piped, output discarded.
pub fn spawn(args: &[&str], env: &[(&str, &str)], home: &Path) -> Child {
    clean_command(args, home)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tinkex")
}

/// Writes `input` to the child's stdin and closes it.
pub fn feed(child: &mut Child, input: &[u8]) {
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
}

/// Polls `ready` every millisecond for up to `limit`; whether it became true.
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ready() {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    false
}

pub fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, signal) };
}

/// The state letter and process group of `pid`, from /proc (None once it is gone).
fn proc_stat(pid: &str) -> Option<(char, String)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(1)?.to_string()))
}

/// Whether any live (not zombie) process is in process group `pgid`.
pub fn group_alive(pgid: &str) -> bool {
    fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let pid = entry.file_name().to_string_lossy().into_owned();
        matches!(proc_stat(&pid), Some((state, group)) if group == pgid && state != 'Z')
    })
}

pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
