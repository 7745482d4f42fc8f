//! Download rate on loopback: a generated file (512 MiB unless `TINKEX_BENCH_MB` says
//! otherwise) served by a tiny HTTP server, fetched by tinkex's storage fetcher and by
//! `curl` from the same server; prints both rates. `make bench-download` runs it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
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

/// Serves `data` to every GET (whole file, `Connection: close`), one thread per client.
fn serve(data: Arc<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let data = Arc::clone(&data);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let mut conn = conn;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    data.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&data);
            });
        }
    });
    port
}

fn main() {
    let mb: usize = std::env::var("TINKEX_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let data: Vec<u8> = (0..mb * 1024 * 1024)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let size = data.len() as f64 / (1024.0 * 1024.0);
    let port = serve(Arc::new(data));
    let url = format!("http://127.0.0.1:{port}/file.bin");
    let dir = std::env::temp_dir().join(format!("tinkex-download-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join("ours.bin");

    let storage = Storage::new(FetchPolicy::default());
    let mut file = std::fs::File::create(&path).expect("create");
    let deadline = Deadline::after(Duration::from_secs(600));
    let started = Instant::now();
    let got = storage
        .fetch(
            "bench",
            &mut Fixed(url.clone()),
            &mut file,
            &deadline,
            &mut |_, _| Ok(()),
        )
        .expect("tinkex download");
    let ours = started.elapsed().as_secs_f64();
    assert_eq!(got as f64 / (1024.0 * 1024.0), size);
    println!("file: {size:.0} MiB on 127.0.0.1");
    println!("tinkex: {:8.1} MiB/s ({ours:.2} s)", size / ours);

    let curl_out = dir.join("curl.bin");
    let started = Instant::now();
    let curl = Command::new("curl")
        .args(["-s", "-o"])
        .arg(&curl_out)
        .arg(&url)
        .status();
    match curl {
        Ok(status) if status.success() => {
            let theirs = started.elapsed().as_secs_f64();
            println!("curl:   {:8.1} MiB/s ({theirs:.2} s)", size / theirs);
        }
        Ok(status) => println!("curl:   failed ({status}); no comparison"),
        Err(_) => println!("curl:   not installed; skipped"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
