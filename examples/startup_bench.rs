//! Whole-process start-up cost of a text-prompt tokenization: wall time and peak RSS of a
//! child process that loads the tokenizer, encodes a prompt and decodes sampled ids, with
//! a cold cache, a warm cache and no cache (`--no-tokenizer-cache`), plus an empty process.
//!
//! Usage: `cargo run --release --example startup_bench [TOKENIZER_JSON] [RUNS]`
//! (`make bench-startup`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tinkex::tokenizer::{Tokenizer, TokenizerOptions};

#[path = "common/proc_status.rs"]
mod proc_status;
use proc_status::status_kib;

const PROMPT: &str = "<|im_start|>user\nWrite a haiku about the sea, then translate it into \
French and explain one word choice.<|im_end|>\n<|im_start|>assistant\n";

/// What a model might sample back: the decode side of a run.
const SAMPLED: &[u32] = &[
    785, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13, 198, 9707, 11, 1879, 0, 151645,
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2], Path::new(&args[3]), Path::new(&args[4]));
    }
    let source = PathBuf::from(
        args.get(1)
            .map_or("fixtures/qwen3/tokenizer.json", String::as_str),
    );
    let runs: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(15);
    let scratch = tempfile::tempdir().expect("temporary directory");
    let warm_dir = scratch.path().join("warm");
    run_child("warm", &source, &warm_dir); // builds the cache the warm runs use
    println!("whole process, load + encode + decode; median of {runs} runs (min–max)");
    println!("{:<12} {:>22} {:>12}", "mode", "wall", "peak RSS");
    for mode in ["empty", "warm", "cold", "no-cache"] {
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        let runs = if mode == "warm" || mode == "empty" {
            runs
        } else {
            runs.div_ceil(3)
        };
        for i in 0..runs {
            let dir = match mode {
                "cold" => scratch.path().join(format!("cold{i}")),
                _ => warm_dir.clone(),
            };
            let (wall, kib) = run_child(mode, &source, &dir);
            walls.push(wall);
            rss.push(kib);
        }
        walls.sort();
        rss.sort();
        println!(
            "{mode:<12} {:>9.1} ms ({:.1}–{:.1}) {:>9.1} MiB",
            ms(walls[walls.len() / 2]),
            ms(walls[0]),
            ms(walls[walls.len() - 1]),
            rss[rss.len() / 2] as f64 / 1024.0
        );
    }
}

/// Runs one child; returns its wall time (spawn to exit) and the peak RSS it reported.
fn run_child(mode: &str, source: &Path, dir: &Path) -> (Duration, u64) {
    let exe = std::env::current_exe().expect("own executable");
    let started = Instant::now();
    let out = Command::new(exe)
        .args(["--child", mode])
        .arg(source)
        .arg(dir)
        .output()
        .expect("child runs");
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(kib) = stdout.lines().find_map(|l| l.strip_prefix("peak_kib ")) else {
        panic!(
            "child {mode} failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    (wall, kib.trim().parse().expect("peak_kib number"))
}

/// The measured process: load, encode, decode, report peak RSS, exit without destructors.
fn child(mode: &str, source: &Path, dir: &Path) -> ! {
    if mode != "empty" {
        let options = match mode {
            "no-cache" => TokenizerOptions::no_cache(),
            _ => TokenizerOptions::with_cache_dir(dir),
        };
        let tok = Tokenizer::from_file_with(source, &options).expect("tokenizer loads");
        let ids = tok.encode(PROMPT).expect("encode");
        let text = tok.decode(SAMPLED).expect("decode");
        assert!(!ids.is_empty() && !text.is_empty());
        if mode != "no-cache" {
            assert!(tok.uses_fast_path(), "{mode} run did not use the fast path");
        }
    }
    println!("peak_kib {}", status_kib("VmHWM"));
    // Exit without running destructors: freeing a full tokenizer alone costs ~20 ms.
    std::process::exit(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
