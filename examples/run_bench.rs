//! Whole-process cost of a text-prompt `tinkex run` against the local demo server: wall time
//! and peak RSS with a cold tokenizer cache, a warm one, and `--no-tokenizer-cache`.
//!
//! Usage (after `cargo build --release --bin tinkex --example demo_server`):
//! `cargo run --release --example run_bench [RUNS]` (`make bench-startup`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release");
    let (tinkex, server_bin) = (release.join("tinkex"), release.join("examples/demo_server"));
    for bin in [&tinkex, &server_bin] {
        assert!(
            bin.exists(),
            "{} is missing: build with --release first (make bench-startup does)",
            bin.display()
        );
    }
    let (mut server, url) = start_server(&server_bin);
    let scratch = tempfile::tempdir().expect("temporary directory");
    let warm = scratch.path().join("warm");
    run_once(&tinkex, &url, &warm, false); // fills the cache the warm runs use
    println!("tinkex run --prompt … against the demo server; median of {runs} runs (min–max)");
    println!("{:<10} {:>24} {:>12}", "cache", "wall", "peak RSS");
    for mode in ["warm", "cold", "off"] {
        let count = if mode == "warm" {
            runs
        } else {
            runs.div_ceil(3)
        };
        let mut samples: Vec<(Duration, u64)> = (0..count)
            .map(|i| match mode {
                "cold" => run_once(
                    &tinkex,
                    &url,
                    &scratch.path().join(format!("cold{i}")),
                    false,
                ),
                "off" => run_once(&tinkex, &url, &warm, true),
                _ => run_once(&tinkex, &url, &warm, false),
            })
            .collect();
        samples.sort();
        let mut rss: Vec<u64> = samples.iter().map(|s| s.1).collect();
        rss.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{mode:<10} {:>10.1} ms ({:.1}–{:.1}) {:>9.1} MiB",
            ms(samples[samples.len() / 2].0),
            ms(samples[0].0),
            ms(samples[samples.len() - 1].0),
            rss[rss.len() / 2] as f64 / 1024.0
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Starts the demo server on a free port and returns it with its URL.
fn start_server(bin: &Path) -> (Child, String) {
    let mut server = Command::new(bin)
        .args(["--port", "0", "-q"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("demo server starts");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("server stdout"))
        .read_line(&mut line)
        .expect("server address");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("a 'listening on URL' line")
        .to_string();
    (server, url)
}

/// One `tinkex run` with its own cache directory; returns wall time and peak RSS (KiB).
fn run_once(tinkex: &Path, url: &str, cache: &PathBuf, no_cache: bool) -> (Duration, u64) {
    let tokenizer = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/qwen3/tokenizer.json");
    let mut command = Command::new(tinkex);
    command
        .args([
            "run",
            "--base-url",
            url,
            "--api-key",
            "tml-bench",
            "--base-model",
            "Qwen/Qwen3-8B",
            "-q",
        ])
        .arg("--tokenizer")
        .arg(&tokenizer)
        .args([
            "--prompt",
            "Write a haiku about the sea, then explain one word choice.",
            "--max-tokens",
            "16",
        ])
        .env("XDG_CACHE_HOME", cache)
        .env("NO_PROXY", "127.0.0.1")
        .stdout(Stdio::null());
    if no_cache {
        command.arg("--no-tokenizer-cache");
    }
    let started = Instant::now();
    let child = command.spawn().expect("tinkex starts");
    let (status, peak_kib) = wait_with_rusage(child);
    let wall = started.elapsed();
    assert!(status == 0, "tinkex run failed with status {status}");
    (wall, peak_kib)
}

/// Waits for `child` with wait4(2), which reports that one child's peak RSS.
fn wait_with_rusage(child: Child) -> (i32, u64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    std::mem::forget(child); // already reaped
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64)
}
