//! Whole-process cost of a text-prompt `tinkex run` against the local demo server: wall time,
//! CPU time and peak RSS with a cold tokenizer cache, a warm one, and `--no-tokenizer-cache`,
//! beside a token-id prompt (`--tokens-only`: no tokenizer at all) as the baseline. The demo
//! server's own round trips are in every wall time; the difference to the baseline is the
//! tokenizer's cost. The `--print-prompt` rows are the tokenizer alone: no server, no sample.
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
    // TINKEX_BENCH_BIN measures another build (e.g. an older one) against the same server.
    let tinkex = std::env::var_os("TINKEX_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| release.join("tinkex"));
    let server_bin = release.join("examples/demo_server");
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
    run_once(&tinkex, &url, &warm, Mode::Warm); // fills the cache the warm runs use
    println!("tinkex run against the demo server; median of {runs} runs (min–max)");
    println!(
        "{:<22} {:>24} {:>10} {:>12}",
        "prompt / cache", "wall", "CPU", "peak RSS"
    );
    let modes = [
        Mode::Tokens,
        Mode::Warm,
        Mode::Cold,
        Mode::Off,
        Mode::PrintWarm,
        Mode::PrintCold,
    ];
    for mode in modes {
        let count = if matches!(mode, Mode::Warm | Mode::Tokens | Mode::PrintWarm) {
            runs
        } else {
            runs.div_ceil(3)
        };
        let mut samples: Vec<Sample> = (0..count)
            .map(|i| {
                let dir = match mode {
                    Mode::Cold => scratch.path().join(format!("cold{i}")),
                    Mode::PrintCold => scratch.path().join(format!("print-cold{i}")),
                    _ => warm.clone(),
                };
                run_once(&tinkex, &url, &dir, mode)
            })
            .collect();
        samples.sort_by_key(|s| s.wall);
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:<22} {:>10.1} ms ({:.1}–{:.1}) {:>7.1} ms {:>8.1} MiB",
            mode.label(),
            ms(samples[samples.len() / 2].wall),
            ms(samples[0].wall),
            ms(samples[samples.len() - 1].wall),
            median(samples.iter().map(|s| ms(s.cpu)).collect()),
            median(samples.iter().map(|s| s.peak_kib as f64 / 1024.0).collect())
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// What one run measures.
#[derive(Clone, Copy)]
enum Mode {
    /// A token-id prompt with `--tokens-only`: no tokenizer.
    Tokens,
    /// Text prompt, cache already built.
    Warm,
    /// Text prompt, empty cache directory.
    Cold,
    /// Text prompt, `--no-tokenizer-cache`.
    Off,
    /// `--print-prompt` (no server), cache already built.
    PrintWarm,
    /// `--print-prompt` (no server), empty cache directory.
    PrintCold,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Tokens => "token ids (baseline)",
            Mode::Warm => "text, warm cache",
            Mode::Cold => "text, cold cache",
            Mode::Off => "text, cache off",
            Mode::PrintWarm => "--print-prompt, warm",
            Mode::PrintCold => "--print-prompt, cold",
        }
    }
}

/// One run's numbers.
struct Sample {
    wall: Duration,
    cpu: Duration,
    peak_kib: u64,
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

/// One `tinkex run` with its own cache directory.
fn run_once(tinkex: &Path, url: &str, cache: &PathBuf, mode: Mode) -> Sample {
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
        .args(["--max-tokens", "16"])
        .env("XDG_CACHE_HOME", cache)
        .env("NO_PROXY", "127.0.0.1")
        .stdout(Stdio::null());
    match mode {
        Mode::Tokens => {
            let prompt = cache.with_extension("prompt.json");
            std::fs::write(&prompt, "[7985, 264, 6386, 38242, 911, 279, 9396]")
                .expect("prompt file");
            command
                .arg("--prompt-file")
                .arg(prompt)
                .arg("--tokens-only");
        }
        _ => {
            command.arg("--tokenizer").arg(&tokenizer);
            command.args([
                "--prompt",
                "Write a haiku about the sea, then explain one word choice.",
            ]);
        }
    }
    if matches!(mode, Mode::Off) {
        command.arg("--no-tokenizer-cache");
    }
    if matches!(mode, Mode::PrintWarm | Mode::PrintCold) {
        command.arg("--print-prompt");
    }
    let started = Instant::now();
    let child = command.spawn().expect("tinkex starts");
    let (status, usage) = wait_with_rusage(child);
    let wall = started.elapsed();
    assert!(status == 0, "tinkex run failed with status {status}");
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Sample {
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        peak_kib: usage.ru_maxrss as u64,
    }
}

/// Waits for `child` with wait4(2), which reports that one child's resource use.
///
/// `ru_maxrss` starts from the forked copy of this process; this bench holds no tokenizer or
/// server in-process (the demo server is a separate child), so that floor is a few MiB and the
/// figure is tinkex's own (batch_bench, which is larger, polls /proc instead).
fn wait_with_rusage(child: Child) -> (i32, libc::rusage) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    std::mem::forget(child); // already reaped
    (libc::WEXITSTATUS(status), usage)
}
