//! `make bench`: batch-mode throughput and memory of the release `tinkex` binary against the
//! offline demo server (in this process) with simulated sampling latency.
//!
//! For each `--parallel` value it runs one batch of token-id prompts (`--tokens-only`, so no
//! tokenizer is loaded and the numbers are about sampling) and prints the wall time, the ideal
//! time (prompts × latency / parallel), their ratio and the child's peak RSS; then it runs a
//! much longer batch to show that memory stays flat however long the input is.
//!
//! Usage: batch_bench [--prompts N] [--parallel 1,8,32,64] [--big N] [--latency-ms MS]

#[path = "demo_server/server.rs"]
mod server;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use server::{DemoConfig, DemoServer};

/// The ratio to ideal that `--parallel 32` must stay within.
const TARGET_RATIO: f64 = 1.2;

/// What the bench measures; every field has a flag.
struct Plan {
    prompts: usize,
    parallel: Vec<usize>,
    big: usize,
    latency_ms: u64,
}

/// One batch run's numbers.
struct Measured {
    wall: Duration,
    peak_rss_kb: i64,
}

fn main() {
    let plan = match parse_args(std::env::args().skip(1)) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("batch_bench: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&plan) {
        eprintln!("batch_bench: {e}");
        std::process::exit(1);
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Plan, String> {
    let mut plan = Plan {
        prompts: 1000,
        parallel: vec![1, 8, 32, 64],
        big: 20_000,
        latency_ms: 100,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("{flag}: expected a positive integer, got {v:?}"))
        };
        match flag.as_str() {
            "--prompts" => plan.prompts = number(&value)?,
            "--big" => plan.big = number(&value)?,
            "--latency-ms" => plan.latency_ms = number(&value)? as u64,
            "--parallel" => {
                plan.parallel = value.split(',').map(number).collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(plan)
}

fn run(plan: &Plan) -> Result<(), String> {
    let tinkex = tinkex_binary()?;
    let server = DemoServer::start(DemoConfig {
        latency_ms: plan.latency_ms,
        ..DemoConfig::default()
    })?;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let latency = Duration::from_millis(plan.latency_ms);
    println!(
        "tinkex batch benchmark: {} (release), demo server at {} ms per sample, \
         --tokens-only prompts (no tokenizer loaded), --max-tokens 16",
        tinkex.display(),
        plan.latency_ms
    );
    println!(
        "{:>8} {:>9} {:>10} {:>10} {:>7} {:>14}",
        "prompts", "parallel", "wall (s)", "ideal (s)", "ratio", "peak RSS (MB)"
    );
    let mut ratio_at_32 = None;
    let mut rss_small = None;
    for &parallel in &plan.parallel {
        let m = batch(&tinkex, &server.url(), dir.path(), plan.prompts, parallel)?;
        let ideal = latency.mul_f64(plan.prompts as f64 / parallel as f64);
        let ratio = m.wall.as_secs_f64() / ideal.as_secs_f64();
        row(plan.prompts, parallel, &m, ideal, ratio);
        if parallel == 32 {
            ratio_at_32 = Some(ratio);
        }
        rss_small = Some((parallel, m.peak_rss_kb));
    }
    if let Some((parallel, small_kb)) = rss_small {
        let m = batch(&tinkex, &server.url(), dir.path(), plan.big, parallel)?;
        let ideal = latency.mul_f64(plan.big as f64 / parallel as f64);
        row(
            plan.big,
            parallel,
            &m,
            ideal,
            m.wall.as_secs_f64() / ideal.as_secs_f64(),
        );
        println!(
            "memory: {} prompts {:.1} MB, {} prompts {:.1} MB at --parallel {parallel} ({:+.1} %)",
            plan.prompts,
            mb(small_kb),
            plan.big,
            mb(m.peak_rss_kb),
            (m.peak_rss_kb - small_kb) as f64 * 100.0 / small_kb as f64
        );
    }
    if let Some(ratio) = ratio_at_32 {
        let verdict = if ratio <= TARGET_RATIO {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "target: within {TARGET_RATIO}x of ideal at --parallel 32: {verdict} ({ratio:.3}x)"
        );
    }
    Ok(())
}

fn row(prompts: usize, parallel: usize, m: &Measured, ideal: Duration, ratio: f64) {
    println!(
        "{prompts:>8} {parallel:>9} {:>10.2} {:>10.2} {ratio:>7.3} {:>14.1}",
        m.wall.as_secs_f64(),
        ideal.as_secs_f64(),
        mb(m.peak_rss_kb)
    );
}

fn mb(kb: i64) -> f64 {
    kb as f64 / 1024.0
}

/// The release `tinkex` beside this example (`target/release/examples/..` → `target/release`).
fn tinkex_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("TINKEX_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("tinkex"))
        .ok_or("cannot find the target directory")?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build it first (make bench does)",
            path.display()
        ))
    }
}

/// Writes `prompts` input lines, runs one batch and checks every line came back without error.
fn batch(
    tinkex: &Path,
    url: &str,
    dir: &Path,
    prompts: usize,
    parallel: usize,
) -> Result<Measured, String> {
    let input = dir.join(format!("in-{prompts}.jsonl"));
    write_input(&input, prompts).map_err(|e| format!("writing {}: {e}", input.display()))?;
    let output = dir.join(format!("out-{prompts}-{parallel}.jsonl"));
    let _ = fs::remove_file(&output);
    let parallel_arg = parallel.to_string();
    let args = [
        "run",
        "--base-url",
        url,
        "--api-key",
        "tml-bench",
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--max-tokens",
        "16",
        "--parallel",
        &parallel_arg,
        "-q",
    ];
    let mut command = Command::new(tinkex);
    command
        .args(args)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .env_remove("TINKER_API_KEY")
        .env_remove("TINKER_BASE_URL")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    let started = Instant::now();
    let (code, peak_rss_kb) = spawn_and_measure(&mut command)?;
    let wall = started.elapsed();
    if code != 0 {
        return Err(format!(
            "tinkex exited {code} on {prompts} prompts at --parallel {parallel}"
        ));
    }
    let text = fs::read_to_string(&output).map_err(|e| format!("reading the output: {e}"))?;
    let lines = text.lines().count();
    let failed = text.lines().filter(|l| l.contains("\"error\":")).count();
    if lines != prompts || failed > 0 {
        return Err(format!(
            "{lines} output lines for {prompts} prompts, {failed} failed"
        ));
    }
    Ok(Measured { wall, peak_rss_kb })
}

fn write_input(path: &Path, prompts: usize) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for i in 1..=prompts {
        writeln!(
            out,
            r#"{{"id":"p{i}","tokens":[9707,11,1879,0],"seed":{i}}}"#
        )?;
    }
    out.flush()
}

/// Runs the command to its end; its exit code and peak resident set size in KiB.
///
/// The peak is the child's own `VmHWM`, polled from /proc while it runs. `wait4`'s
/// `ru_maxrss` would not do: the kernel keeps the high-water mark of the forked copy of this
/// process (which holds the demo server and its tokenizer) across the `exec`.
fn spawn_and_measure(command: &mut Command) -> Result<(i32, i64), String> {
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run tinkex: {e}"))?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak = 0;
    loop {
        // Read before checking for exit, so the last sample is as late as possible.
        if let Some(kb) = vm_hwm_kb(&status_file) {
            peak = peak.max(kb);
        }
        match child.try_wait() {
            Ok(Some(status)) => return Ok((status.code().unwrap_or(-1), peak)),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for tinkex: {e}")),
        }
    }
}

/// The `VmHWM:` line of a /proc status file, in KiB (absent once the process has exited).
fn vm_hwm_kb(status_file: &Path) -> Option<i64> {
    let text = fs::read_to_string(status_file).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
