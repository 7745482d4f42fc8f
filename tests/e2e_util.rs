//! Runs the built `tinkex` binary with a clean environment against the in-process demo server,
//! with a wall-clock limit, and runs many such cases on a few threads.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The scratch subdirectory used as the Hugging Face hub cache (not an output of the run).
pub const HUB_DIR: &str = "hub";

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

impl Run {
    /// The `tinkex: error: …` lines of stderr.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("tinkex: error: "))
            .collect()
    }
}

/// A scratch directory: `HOME` for the run (no stored credentials) and room for files.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A fresh directory holding only a hub cache in which `Qwen/Qwen3-8B` has a tokenizer, so
    /// a run that must look its tokenizer up by model name finds it offline. It is the small
    /// fixture, not Qwen3's: parsing that 11 MB file takes seconds in a debug build on a busy
    /// machine, and these runs only need some tokenizer.
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join(HUB_DIR).join("models--Qwen--Qwen3-8B");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snapshot = repo.join("snapshots").join(commit);
        fs::create_dir_all(&snapshot).expect("hub cache dir");
        fs::create_dir_all(repo.join("refs")).expect("hub refs dir");
        fs::write(repo.join("refs/main"), commit).expect("hub ref");
        let small = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/small/tokenizer.json");
        std::os::unix::fs::symlink(small, snapshot.join("tokenizer.json")).expect("hub cache link");
        Scratch { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `content` to `name` inside it and returns the path as an argument.
    pub fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        fs::write(&path, content).expect("write scratch file");
        path.to_string_lossy().into_owned()
    }

    /// `name` inside it, as an argument.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The names of the entries in it other than the hub cache and `keep`, sorted.
    pub fn listing_except(&self, keep: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .expect("read scratch dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| n != HUB_DIR && !keep.contains(&n.as_str()))
            .collect();
        names.sort();
        names
    }
}

/// Runs `tinkex ARGS` from the crate root with only PATH, HOME (the scratch dir), the hub cache,
/// `HF_HUB_OFFLINE=1`, `NO_PROXY` for loopback and `TINKEX_RETRY_SCALE=0` set; kills it if it
/// outlives `kill_after`.
pub fn tinkex(args: &[String], scratch: &Scratch, kill_after: Duration) -> Run {
    tinkex_env(args, &[], scratch, kill_after)
}

/// The clean environment `tinkex` runs in, for a command that is not the binary itself.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>, scratch: &Scratch) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.path())
        .env("HF_HUB_CACHE", scratch.path().join(HUB_DIR))
        .env("HF_HUB_OFFLINE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("TINKEX_RETRY_SCALE", "0")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    command
}

/// [`tinkex`] with `env` added to the clean environment.
pub fn tinkex_env(
    args: &[String],
    env: &[(&str, &str)],
    scratch: &Scratch,
    kill_after: Duration,
) -> Run {
    let mut command = clean_command(env!("CARGO_BIN_EXE_tinkex"), scratch);
    command.args(args).envs(env.iter().copied());
    finish(command, kill_after)
}

/// Runs `command` with stdout and stderr captured; kills it if it outlives `kill_after`.
pub fn finish(mut command: Command, kill_after: Duration) -> Run {
    let captured = tempfile::tempdir().expect("capture dir");
    let out_path = captured.path().join("stdout");
    let err_path = captured.path().join("stderr");
    let started = Instant::now();
    let mut child = command
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
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    Run {
        code,
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed,
    }
}

/// Runs `jobs` on up to `workers` threads, first job first, and returns results in input order.
pub fn parallel<T: Send, R: Send>(
    jobs: Vec<T>,
    workers: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let mut queue: Vec<(usize, T)> = jobs.into_iter().enumerate().collect();
    queue.reverse();
    let queue = Mutex::new(queue);
    let results = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = queue.lock().unwrap().pop();
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

/// `run --base-url URL --api-key tml-demo` followed by `extra`.
pub fn run_args(url: &str, extra: &[&str]) -> Vec<String> {
    ["run", "--base-url", url, "--api-key", "tml-demo"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}
