//! The deadline, held and stalled polls, and dropped connections, against a raw local server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinkex::client::{Config, ModelInput, RetryPolicy, SamplingParams};
use tinkex::Deadline;

use crate::support::client::*;

/// How the raw server treats the n-th `retrieve_future` (0-based).
type PollScript = dyn Fn(usize, &mut TcpStream) + Send + Sync;

/// A tiny HTTP server: fixed answers for setup calls, `script` for polls.
fn raw_server(script: Arc<PollScript>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&polls);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (script, counter) = (Arc::clone(&script), Arc::clone(&counter));
            std::thread::spawn(move || serve(stream, &*script, &counter));
        }
    });
    (url, polls)
}

fn serve(mut stream: TcpStream, script: &PollScript, polls: &AtomicUsize) {
    let Some(path) = read_request(&mut stream) else {
        return;
    };
    let body = match path.as_str() {
        "/api/v1/client/config" | "/api/v1/session_heartbeat" => "{}".to_string(),
        "/api/v1/create_session" => r#"{"session_id":"sess-1"}"#.to_string(),
        "/api/v1/create_sampling_session" => r#"{"sampling_session_id":"samp-1"}"#.to_string(),
        "/api/v1/asample" => accepted("req-raw"),
        "/api/v1/retrieve_future" => {
            let n = polls.fetch_add(1, Ordering::SeqCst);
            return script(n, &mut stream);
        }
        _ => return respond(&mut stream, 404, "{}"),
    };
    respond(&mut stream, 200, &body);
}

fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(path)
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

fn raw_config(url: &str, deadline: Duration) -> Config {
    let mut config = Config::new(KEY, url);
    config.retry = RetryPolicy::scaled(0.0);
    config.deadline = Deadline::after(deadline);
    config.with_heartbeat_interval(Duration::from_secs(3600))
}

fn run(config: Config) -> tinkex::Result<tinkex::client::SampleResponse> {
    let (_service, sampler) = connect(config);
    sampler
        .sample(
            ModelInput::from_tokens(vec![1]),
            1,
            SamplingParams::default(),
        )?
        .wait(None)
}

#[test]
fn a_future_that_never_completes_ends_at_the_deadline() {
    let (mut server, log) = ready();
    accept(&mut server, &log, "req-1").create();
    let try_again = r#"{"type":"try_again","request_id":"req-1","queue_state":"active"}"#;
    retrieve(&mut server, &log, 200, try_again).create();
    let mut config = config(&server);
    config.retry = RetryPolicy::scaled(0.1);
    config.deadline = Deadline::after(Duration::from_millis(1500));
    let started = Instant::now();
    let err = run(config).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(
        err.to_string().contains("waiting for the sample result"),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(1400) && took <= Duration::from_millis(2500),
        "{took:?}"
    );
    assert!(log.to("/api/v1/retrieve_future").len() >= 3);
}

#[test]
fn a_held_poll_is_sent_again_until_the_deadline() {
    let hold: Arc<PollScript> = Arc::new(|_, _| std::thread::sleep(Duration::from_secs(5)));
    let (url, polls) = raw_server(hold);
    // A 3 s deadline over 300 ms polls leaves room for about ten polls: at least three must
    // go out even when a loaded machine slows the setup calls before them.
    let config =
        raw_config(&url, Duration::from_millis(3000)).with_poll_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = run(config).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(took <= Duration::from_millis(4000), "{took:?}");
    assert!(
        polls.load(Ordering::SeqCst) >= 3,
        "{} polls",
        polls.load(Ordering::SeqCst)
    );
}

#[test]
fn a_stalled_body_is_dropped_and_polled_again() {
    let script: Arc<PollScript> = Arc::new(|n, stream| {
        if n == 0 {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(b"{\"sequences\":");
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(5));
        } else {
            respond(stream, 200, RESULT_JSON);
        }
    });
    let (url, polls) = raw_server(script);
    let config = raw_config(&url, Duration::from_secs(20))
        .with_poll_timeout(Duration::from_secs(10))
        .with_stall_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let response = run(config).unwrap();
    assert_eq!(response.sequences[0].tokens, vec![7, 8]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_dropped_poll_connection_backs_off_then_polls_again() {
    let script: Arc<PollScript> = Arc::new(|n, stream| {
        if n == 0 {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        } else {
            respond(stream, 200, RESULT_JSON);
        }
    });
    let (url, polls) = raw_server(script);
    let (policy, delays) = recorder();
    let mut config = raw_config(&url, Duration::from_secs(600));
    config.retry = policy;
    run(config).unwrap();
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    assert_eq!(secs(&delays), [1.0]);
}
