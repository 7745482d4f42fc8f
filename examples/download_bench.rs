//! Download rate and memory on loopback. A tiny HTTP server holds a generated file (512 MiB
//! unless `TINKEX_BENCH_MB` says otherwise) and answers `external_weights_urls` for it; the
//! bench fetches it with tinkex's storage fetcher, with the whole `tinkex checkpoint download`
//! process and with `curl`, and prints the three rates; then the peak RSS of `tinkex checkpoint
//! download` for a 2 MB and a 50 MB file (streaming: they should be about equal).
//! `make bench-download` runs it; the `tinkex` binary must sit next to `examples/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinkex::download::{FetchPolicy, Storage, UrlSource};
use tinkex::Deadline;

/// Hands the fetcher the same URL every time.
struct Fixed(String);

impl UrlSource for Fixed {
    fn url(&mut self, _fresh: bool) -> tinkex::Result<String> {
        Ok(self.0.clone())
    }
}

/// One period of the generated file's bytes (byte i is `i * 31 % 251`), repeated to ~1 MiB:
/// the file is written from it on the fly, so the bench holds no copy of the file and its own
/// memory stays below what it measures in `tinkex` (a spawned child's peak RSS starts at its
/// parent's).
fn pattern() -> Vec<u8> {
    (0..251 * 4096).map(|i| (i * 31 % 251) as u8).collect()
}

/// Serves `/file/N` (the first N bytes of the generated file), the URL listing of checkpoint
/// `external_weights/N` and `{}` for every other API call; one thread per connection.
fn serve(data: Arc<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let data = Arc::clone(&data);
            std::thread::spawn(move || answer(conn, &data, port));
        }
    });
    port
}

fn answer(conn: TcpStream, block: &[u8], port: u16) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let (mut line, mut path, mut length) = (String::new(), String::new(), 0usize);
    while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
        if path.is_empty() {
            path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    // Read the request body: closing on unread bytes would reset the connection.
    let _ = std::io::copy(&mut reader.take(length as u64), &mut std::io::sink());
    let n = |s: &str| s.parse::<usize>().unwrap_or(0);
    let body: Vec<u8> = if let Some(size) = path.strip_prefix("/file/") {
        return send_generated(conn, block, n(size));
    } else if let Some(rest) = path.strip_suffix("/external_weights_urls") {
        let size = n(rest.rsplit('/').next().unwrap_or_default());
        let url = format!("http://127.0.0.1:{port}/file/{size}");
        format!(r#"{{"urls":{{"weights.bin":"{url}"}},"expires":"2999-01-01T00:00:00Z"}}"#).into()
    } else {
        b"{}".to_vec()
    };
    send(conn, &body)
}

/// Sends `size` bytes of the generated file, a block at a time.
fn send_generated(mut conn: TcpStream, block: &[u8], size: usize) {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
    let _ = conn.write_all(head.as_bytes());
    let mut left = size;
    while left > 0 {
        let piece = left.min(block.len());
        if conn.write_all(&block[..piece]).is_err() {
            return;
        }
        left -= piece;
    }
}

fn send(mut conn: TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}

/// Runs `tinkex checkpoint download` of `external_weights/{bytes}`; wall seconds, peak RSS
/// in MiB (from `wait4`).
fn tinkex_download(tinkex: &Path, port: u16, bytes: usize, out: &Path) -> (f64, f64) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).expect("output directory");
    let started = Instant::now();
    // Reaped by `wait4` below, which also gives the peak RSS (`Child::wait` does not).
    #[allow(clippy::zombie_processes)]
    let child = Command::new(tinkex)
        .args(["checkpoint", "download", "-q", "-o"])
        .arg(out)
        .arg(format!("tinker://bench/external_weights/{bytes}"))
        .args(["--base-url", &format!("http://127.0.0.1:{port}")])
        .env("TINKER_API_KEY", "tml-bench")
        .env("NO_PROXY", "127.0.0.1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start tinkex");
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: a child of ours, valid pointers to a status and a rusage.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    assert!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "tinkex failed"
    );
    let got = out
        .join(format!("bench_external_weights_{bytes}"))
        .join("weights.bin");
    assert_eq!(
        std::fs::metadata(got).expect("downloaded file").len(),
        bytes as u64
    );
    (wall, usage.ru_maxrss as f64 / 1024.0)
}

/// This process's peak RSS so far, in MiB.
fn own_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or_default();
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn fetcher_rate(url: &str, path: &Path, mib: f64) -> f64 {
    let storage = Storage::new(FetchPolicy::default());
    let mut file = std::fs::File::create(path).expect("create");
    let deadline = Deadline::after(Duration::from_secs(600));
    let started = Instant::now();
    let mut source = Fixed(url.to_string());
    let got = storage
        .fetch("bench", &mut source, &mut file, &deadline, &mut |_, _| {
            Ok(())
        })
        .expect("tinkex download");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(got as f64 / (1024.0 * 1024.0), mib);
    secs
}

fn curl_line(url: &str, out: &Path, mib: f64) -> String {
    let started = Instant::now();
    let curl = Command::new("curl")
        .args(["-s", "-o"])
        .arg(out)
        .arg(url)
        .status();
    match curl {
        Ok(status) if status.success() => {
            let secs = started.elapsed().as_secs_f64();
            format!(
                "curl:                   {:8.1} MiB/s ({secs:.2} s)",
                mib / secs
            )
        }
        Ok(status) => format!("curl:   failed ({status}); no comparison"),
        Err(_) => "curl:   not installed; skipped".to_string(),
    }
}

fn main() {
    let mb: usize = std::env::var("TINKEX_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
        .max(50);
    let (size, mib) = (mb << 20, mb as f64);
    let port = serve(Arc::new(pattern()));
    let url = format!("http://127.0.0.1:{port}/file/{size}");
    let dir = std::env::temp_dir().join(format!("tinkex-download-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let exe = std::env::current_exe().expect("own path");
    let tinkex: PathBuf = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("tinkex");

    println!("file: {mib:.0} MiB on 127.0.0.1");
    let secs = fetcher_rate(&url, &dir.join("ours.bin"), mib);
    let _ = std::fs::remove_file(dir.join("ours.bin"));
    println!(
        "tinkex fetcher:         {:8.1} MiB/s ({secs:.2} s)",
        mib / secs
    );
    let (secs, rss) = tinkex_download(&tinkex, port, size, &dir.join("cli"));
    let _ = std::fs::remove_dir_all(dir.join("cli"));
    println!(
        "tinkex checkpoint download: {:8.1} MiB/s ({secs:.2} s, peak RSS {rss:.1} MiB)",
        mib / secs
    );
    println!("{}", curl_line(&url, &dir.join("curl.bin"), mib));
    let _ = std::fs::remove_file(dir.join("curl.bin"));
    println!(
        "peak RSS of this bench (a floor for the figures below): {:.1} MiB",
        own_rss()
    );
    for bytes in [2_000_000, 50_000_000] {
        let (secs, rss) = tinkex_download(&tinkex, port, bytes, &dir.join("cli"));
        println!(
            "peak RSS, {:>2} MB file: {rss:.1} MiB ({secs:.2} s)",
            bytes / 1_000_000
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
