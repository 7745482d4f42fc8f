//! A hostile Tinker server for the hostile-input suite: a raw HTTP/1.1 server on 127.0.0.1 that
//! answers every endpoint correctly except one, which gets a planned [`Action`] (a wrong body,
//! a random status, a bad `Retry-After`, a dropped or stalled connection), plus the seeded
//! generator of those actions.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The API key every case uses (the suite's one fake key); no 8-character prefix of it may
/// ever be printed.
pub use super::KEY;
/// The session token `auth/token` hands out: not a JWT, so only registration hides it.
pub const TOKEN: &str = "sess-hostile-token-9e8d7c6b5a4938";
/// How long a stalled connection is held (longer than any case's `--timeout`).
pub const STALL: Duration = Duration::from_secs(4);

/// A small seeded PRNG (xorshift64*): the suite must be the same on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; zero is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Fewer than `max` random bytes.
    pub fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        self.bytes(len)
    }
}

/// The endpoints a run calls, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ep {
    Config,
    Auth,
    CreateSession,
    CreateSampler,
    Asample,
    Retrieve,
    Heartbeat,
    Finish,
}

impl Ep {
    /// Every endpoint.
    pub const ALL: [Ep; 8] = [
        Ep::Config,
        Ep::Auth,
        Ep::CreateSession,
        Ep::CreateSampler,
        Ep::Asample,
        Ep::Retrieve,
        Ep::Heartbeat,
        Ep::Finish,
    ];

    /// The endpoint of a request path.
    pub fn of(path: &str) -> Option<Ep> {
        let path = path.split('?').next().unwrap_or("");
        Some(match path {
            "/api/v1/client/config" => Ep::Config,
            "/api/v1/auth/token" => Ep::Auth,
            "/api/v1/create_session" => Ep::CreateSession,
            "/api/v1/create_sampling_session" => Ep::CreateSampler,
            "/api/v1/asample" => Ep::Asample,
            "/api/v1/retrieve_future" => Ep::Retrieve,
            "/api/v1/session_heartbeat" => Ep::Heartbeat,
            p if p.starts_with("/api/v1/sessions/") && p.ends_with("/finish") => Ep::Finish,
            _ => return None,
        })
    }

    /// A short name for the summary.
    pub fn name(self) -> &'static str {
        match self {
            Ep::Config => "config",
            Ep::Auth => "auth",
            Ep::CreateSession => "create_session",
            Ep::CreateSampler => "create_sampler",
            Ep::Asample => "asample",
            Ep::Retrieve => "retrieve_future",
            Ep::Heartbeat => "heartbeat",
            Ep::Finish => "finish",
        }
    }

    /// The correct answer body (JSON).
    fn normal(self) -> String {
        match self {
            Ep::Config => r#"{"pjwt_auth_enabled":true,"credential_default_source":"api_key"}"#
                .to_string(),
            Ep::Auth => format!(r#"{{"jwt":"{TOKEN}"}}"#),
            Ep::CreateSession => r#"{"session_id":"sess-1","info_message":null}"#.to_string(),
            Ep::CreateSampler => r#"{"sampling_session_id":"samp-1"}"#.to_string(),
            Ep::Asample => r#"{"request_id":"req-1"}"#.to_string(),
            Ep::Retrieve => r#"{"type":"sample","sequences":[{"tokens":[5,6,7,8],"logprobs":[-0.5,-0.25,-1.0,-2.0],"stop_reason":"length"}]}"#.to_string(),
            Ep::Heartbeat => r#"{"type":"session_heartbeat"}"#.to_string(),
            Ep::Finish => "{}".to_string(),
        }
    }
}

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answers with `status`, extra headers and `body`; `declared` overrides Content-Length.
    Reply {
        status: u16,
        content_type: &'static str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        declared: Option<u64>,
    },
    /// Closes the connection without a word.
    Drop,
    /// Sends `sent` bytes of a body that claims more, then holds the connection for [`STALL`].
    Stall { sent: usize },
}

impl Action {
    /// A JSON answer with `status`.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Action {
        Action::Reply {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.into(),
            declared: None,
        }
    }
}

/// Which endpoint misbehaves, how, and whether on every call or only the first.
#[derive(Clone, Debug)]
pub struct Plan {
    pub ep: Ep,
    pub action: Action,
    pub every_call: bool,
}

/// A running hostile server; stops when dropped.
pub struct HostileServer {
    url: String,
    stop: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<(Ep, bool)>>>,
    accept: Option<JoinHandle<()>>,
}

impl HostileServer {
    /// Starts serving `plan` on a free loopback port.
    pub fn start(plan: Plan) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let plan = Arc::new(plan);
        let accept = {
            let (stop, calls) = (Arc::clone(&stop), Arc::clone(&calls));
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (plan, calls, stop) =
                                (Arc::clone(&plan), Arc::clone(&calls), Arc::clone(&stop));
                            thread::spawn(move || serve(stream, &plan, &calls, &stop));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        HostileServer {
            url,
            stop,
            calls,
            accept: Some(accept),
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every call so far: its endpoint and whether it got the hostile action.
    pub fn calls(&self) -> Vec<(Ep, bool)> {
        self.calls.lock().unwrap().clone()
    }

    /// Whether the hostile action was ever served.
    pub fn reached(&self) -> bool {
        self.calls().iter().any(|(_, hostile)| *hostile)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Reads one request (head and Content-Length body) and answers it.
fn serve(mut stream: TcpStream, plan: &Plan, calls: &Mutex<Vec<(Ep, bool)>>, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let Some(path) = read_request(&mut stream) else {
        return;
    };
    let Some(ep) = Ep::of(&path) else {
        let _ = write_reply(
            &mut stream,
            &Action::json(404, r#"{"detail":"no such path"}"#),
        );
        return;
    };
    let hostile = {
        let mut calls = calls.lock().unwrap();
        let first = !calls.iter().any(|(e, _)| *e == ep);
        let hostile = ep == plan.ep && (plan.every_call || first);
        calls.push((ep, hostile));
        hostile
    };
    let action = if hostile {
        plan.action.clone()
    } else {
        Action::json(200, ep.normal())
    };
    match action {
        Action::Drop => {}
        Action::Stall { sent } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                sent + 100
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&vec![b' '; sent]);
            let _ = stream.flush();
            let until = Instant::now() + STALL;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
        }
        reply => {
            let _ = write_reply(&mut stream, &reply);
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// The path of the request on `stream`, its body read and dropped.
fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if data.len() > 1 << 20 {
            return None;
        }
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let path = head.split_whitespace().nth(1)?.to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut have = data.len() - head_end;
    while have < length {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        have += n;
    }
    Some(path)
}

fn write_reply(stream: &mut TcpStream, reply: &Action) -> std::io::Result<()> {
    let Action::Reply {
        status,
        content_type,
        headers,
        body,
        declared,
    } = reply
    else {
        return Ok(());
    };
    let mut head = format!("HTTP/1.1 {status} Hostile\r\nContent-Type: {content_type}\r\n");
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n",
        declared.unwrap_or(body.len() as u64)
    ));
    let mut bytes = head.into_bytes();
    for (k, v) in headers {
        bytes.extend_from_slice(format!("{k}: ").as_bytes());
        bytes.extend_from_slice(v.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    stream.write_all(&bytes)?;
    stream.flush()
}
