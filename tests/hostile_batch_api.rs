//! A slow fake Tinker API for the hostile batch tests: every connection on its own thread, so
//! many prompts can wait out the latency at once, and one prompt answered 401.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

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
