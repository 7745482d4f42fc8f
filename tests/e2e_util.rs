//! Runs the built `tinkex` binary with a clean environment against the in-process demo server.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal or by the harness).
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

/// A scratch directory: `HOME` for the run (no stored credentials) and room for files.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A fresh, empty directory.
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `content` to `name` inside it and returns the path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, content).expect("write scratch file");
        path
    }

    /// The names of the files in it, sorted.
    pub fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .expect("read scratch dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

/// Runs `tinkex ARGS` with only PATH, HOME (the scratch dir), `TINKEX_RETRY_SCALE=0` and
/// `HF_HUB_OFFLINE=1` set; kills it if it outlives `kill_after`.
pub fn tinkex(args: &[String], scratch: &Scratch, kill_after: Duration) -> Run {
    let out_path = scratch.path().join(".stdout");
    let err_path = scratch.path().join(".stderr");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tinkex"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.path())
        .env("TINKEX_RETRY_SCALE", "0")
        .env("HF_HUB_OFFLINE", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("the tinkex binary runs");
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait for tinkex") {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > kill_after {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let read = |p: &Path| {
        let text = fs::read_to_string(p).unwrap_or_default();
        let _ = fs::remove_file(p);
        text
    };
    Run {
        code,
        stdout: read(&out_path),
        stderr: read(&err_path),
        elapsed,
    }
}

/// Runs `jobs` on up to `workers` threads and returns their results in input order.
pub fn parallel<T: Send, R: Send>(
    jobs: Vec<T>,
    workers: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let jobs = std::sync::Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = jobs.lock().unwrap().pop();
                let Some((i, job)) = job else { return };
                let r = f(job);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
