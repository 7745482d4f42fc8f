//! A raw HTTP server on 127.0.0.1 playing both the Tinker API's download endpoints and the
//! storage behind the signed URLs, with faults a test switches on: resets, stalls, ignored
//! `Range`, expired signatures, a 503 while an archive is built, lying lengths. It records
//! every request and counts the body bytes it serves.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }
}

/// How the storage serves one file.
#[derive(Debug, Clone, Default)]
pub struct Fault {
    /// The first answer from byte 0 breaks (RST) after this many body bytes.
    pub reset_after: Option<usize>,
    /// The first answer from byte 0 stops sending after this many bytes, connection open.
    pub stall_after: Option<usize>,
    /// Always answer 200 with the whole file, ignoring `Range`.
    pub ignore_range: bool,
    /// Claim this Content-Length instead of the true one (a lying body).
    pub claimed_length: Option<usize>,
    /// A 206 answer sends this many bytes more than its Content-Range says (and counts them
    /// in its Content-Length).
    pub long_206: Option<usize>,
    /// Answer the first GET with a 302 to the same file under /moved/.
    pub redirect: bool,
    /// Send the body slowly (4 KiB every 20 ms), so a test can signal the client mid-file.
    pub trickle: bool,
}

/// What the server holds and how it misbehaves.
#[derive(Debug, Default)]
pub struct State {
    pub files: BTreeMap<String, Vec<u8>>,
    pub faults: BTreeMap<String, Fault>,
    /// Signatures older than this generation answer 403.
    pub valid_from: u64,
    /// Signatures handed out so far.
    pub signed: u64,
    /// `expires` written in URL listings (RFC 3339).
    pub expires: String,
    /// 503 answers the archive endpoint gives before it redirects.
    pub archive_503: u32,
    /// After this many storage GETs with a valid signature, every older one expires.
    pub expire_after_gets: Option<u64>,
    pub storage_gets: u64,
    /// Body bytes served, per file.
    pub served: BTreeMap<String, usize>,
    pub seen: Vec<Seen>,
    /// Answer load_weights' future with a user error (an unknown checkpoint).
    pub unknown_weights: bool,
}

/// The running server; dropping it stops the accept loop.
pub struct DownloadServer {
    pub state: Arc<Mutex<State>>,
    pub port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl DownloadServer {
    /// Starts a server holding `files` (name → bytes); URLs expire in an hour.
    pub fn start(files: &[(&str, Vec<u8>)]) -> DownloadServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut state = State {
            expires: "2999-01-01T00:00:00Z".to_string(),
            ..State::default()
        };
        for (name, bytes) in files {
            state.files.insert(name.to_string(), bytes.clone());
        }
        let state = Arc::new(Mutex::new(state));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, st) = (Arc::clone(&s), Arc::clone(&st));
                std::thread::spawn(move || serve(conn, port, &s, &st));
            }
        });
        DownloadServer {
            state,
            port,
            stop,
            accept: Some(accept),
        }
    }

    /// The base URL of the API.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes the state.
    pub fn with(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap());
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// `METHOD path` of every request to the API (storage requests left out).
    pub fn api_calls(&self) -> Vec<String> {
        let seen = self.seen();
        let api = seen.iter().filter(|s| s.path.starts_with("/api/"));
        api.map(|s| format!("{} {}", s.method, s.path)).collect()
    }

    /// The storage requests.
    pub fn storage(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| !s.path.starts_with("/api/"))
            .collect()
    }

    /// Body bytes served for `name`.
    pub fn served(&self, name: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .served
            .get(name)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for DownloadServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

fn read_request(conn: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    conn.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        conn.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut seen = Seen {
        method,
        path,
        headers,
        body: String::new(),
    };
    let length: usize = seen
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    conn.read_exact(&mut body).ok()?;
    seen.body = String::from_utf8_lossy(&body).into_owned();
    Some(seen)
}

fn serve(conn: TcpStream, port: u16, state: &Mutex<State>, stop: &AtomicBool) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    state.lock().unwrap().seen.push(req.clone());
    let mut conn = conn;
    if req.path.starts_with("/api/") {
        let (status, headers, body) = api(&req, port, &mut state.lock().unwrap());
        respond(&mut conn, status, &headers, body.as_bytes());
    } else {
        storage(&req, &mut conn, state, stop);
    }
}

fn respond(conn: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}

fn signed_url(port: u16, state: &mut State, name: &str) -> String {
    state.signed += 1;
    format!("http://127.0.0.1:{port}/store/{name}?sig={}", state.signed)
}

/// The API's answers: (status, headers, JSON body).
fn api(req: &Seen, port: u16, state: &mut State) -> (u16, Vec<(String, String)>, String) {
    let ok = |v: Value| (200, vec![], v.to_string());
    let path = req.path.as_str();
    if path.ends_with("/external_weights_urls") {
        let names: Vec<String> = state
            .files
            .keys()
            .filter(|n| *n != "archive")
            .cloned()
            .collect();
        let mut urls = serde_json::Map::new();
        for name in names {
            let url = signed_url(port, state, &name);
            urls.insert(name, Value::String(url));
        }
        return ok(json!({"urls": urls, "expires": state.expires}));
    }
    if path.ends_with("/archive") {
        if state.archive_503 > 0 {
            state.archive_503 -= 1;
            return (503, vec![], json!({"detail": "building"}).to_string());
        }
        let url = signed_url(port, state, "archive");
        return (302, vec![("Location".to_string(), url)], String::new());
    }
    match path {
        "/api/v1/create_session" => ok(json!({"session_id": "S"})),
        "/api/v1/load_weights" => ok(json!({"request_id": "load-1"})),
        "/api/v1/save_weights_external" => ok(json!({"request_id": "save-1"})),
        "/api/v1/retrieve_future" if req.body.contains("load-1") && state.unknown_weights => {
            ok(json!({"error": "checkpoint not found", "category": "user"}))
        }
        "/api/v1/retrieve_future" if req.body.contains("load-1") => {
            ok(json!({"type": "load_weights", "path": null}))
        }
        "/api/v1/retrieve_future" => ok(json!({
            "path": "tinker://S:train:0/external_weights/download",
            "size_bytes": state.files.values().map(Vec::len).sum::<usize>(),
            "type": "save_weights_external"
        })),
        _ => ok(json!({})),
    }
}

/// A storage GET: signature check, faults, Range.
fn storage(req: &Seen, conn: &mut TcpStream, state: &Mutex<State>, stop: &AtomicBool) {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let moved = path.starts_with("/moved/");
    let name = path
        .trim_start_matches("/store/")
        .trim_start_matches("/moved/")
        .to_string();
    let sig: u64 = query.trim_start_matches("sig=").parse().unwrap_or(0);
    let mut s = state.lock().unwrap();
    s.storage_gets += 1;
    if sig < s.valid_from {
        drop(s);
        return respond(conn, 403, &[], b"<Error>expired</Error>");
    }
    if let Some(n) = s.expire_after_gets {
        if s.storage_gets >= n {
            s.valid_from = s.signed + 1;
            s.expire_after_gets = None;
        }
    }
    let Some(data) = s.files.get(&name).cloned() else {
        drop(s);
        return respond(conn, 404, &[], b"no such file");
    };
    let fault = s.faults.get(&name).cloned().unwrap_or_default();
    if fault.redirect && !moved {
        drop(s);
        let to = vec![("Location".to_string(), format!("/moved/{name}?{query}"))];
        return respond(conn, 302, &to, b"");
    }
    let range = req.header("range").and_then(|r| {
        r.strip_prefix("bytes=")?
            .strip_suffix('-')?
            .parse::<usize>()
            .ok()
    });
    let from = if fault.ignore_range {
        0
    } else {
        range.unwrap_or(0).min(data.len())
    };
    let first = from == 0 && s.served.get(&name).copied().unwrap_or(0) == 0;
    let mut padded = data[from..].to_vec();
    if from > 0 {
        padded.extend(std::iter::repeat_n(b'!', fault.long_206.unwrap_or(0)));
    }
    let body = &padded[..];
    let length = fault.claimed_length.unwrap_or(body.len());
    let mut head = if from > 0 {
        format!(
            "HTTP/1.1 206 P\r\nContent-Range: bytes {from}-{}/{}\r\n",
            data.len() - 1,
            data.len()
        )
    } else {
        "HTTP/1.1 200 OK\r\n".to_string()
    };
    head.push_str(&format!(
        "Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ));
    let cut = if first {
        fault.reset_after.or(fault.stall_after)
    } else {
        None
    };
    let sent = cut.unwrap_or(body.len()).min(body.len());
    *s.served.entry(name).or_default() += sent;
    drop(s);
    let _ = conn.write_all(head.as_bytes());
    if fault.trickle {
        trickle(conn, &body[..sent], stop);
    } else {
        let _ = conn.write_all(&body[..sent]);
    }
    let _ = conn.flush();
    if first && fault.reset_after.is_some() {
        reset(conn);
    } else if first && fault.stall_after.is_some() {
        hold(conn, stop);
    }
}

/// Writes `body` a little at a time until done, the client gone, or the server stopped.
fn trickle(conn: &mut TcpStream, body: &[u8], stop: &AtomicBool) {
    for piece in body.chunks(4096) {
        if stop.load(Ordering::SeqCst) || conn.write_all(piece).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Closes with a TCP RST (SO_LINGER 0).
fn reset(conn: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Keeps a stalled connection open until the client gives up on it (bounded: 30 s).
fn hold(conn: &mut TcpStream, stop: &AtomicBool) {
    let started = Instant::now();
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 64];
    while started.elapsed() < Duration::from_secs(30) && !stop.load(Ordering::SeqCst) {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

/// A deterministic pseudo-random body of `n` bytes.
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    let mut x = 0x9e3779b9u32 ^ seed as u32;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A tar member for [`tar`]: name, kind byte, data (link target for links).
pub struct Member<'a>(pub &'a str, pub u8, pub &'a [u8]);

/// A tar archive built by hand (ustar headers), ended by two zero blocks.
pub fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for Member(name, kind, data) in members {
        let mut h = [0u8; 512];
        h[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        h[100..108].copy_from_slice(b"0000644\0");
        let size = if matches!(*kind, b'0' | b'L' | b'x') {
            data.len()
        } else {
            0
        };
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = *kind;
        if matches!(*kind, b'1' | b'2') {
            h[157..157 + data.len()].copy_from_slice(data);
        }
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        if size > 0 {
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// `data` gzipped.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
