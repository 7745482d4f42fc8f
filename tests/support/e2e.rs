//! End-to-end runs of the built binary against the in-process demo server: a scratch `HOME`
//! with an offline hub cache, and many such cases on a few threads.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use super::run::{tinkex, Outcome};
use super::KEY;

/// The scratch subdirectory used as the Hugging Face hub cache (not an output of the run).
pub const HUB_DIR: &str = "hub";

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

    /// Runs `tinkex ARGS` with this directory as `HOME` and its hub cache as `HF_HUB_CACHE`
    /// (offline); kills it if it outlives `kill_after`.
    pub fn run(&self, args: &[String], kill_after: Duration) -> Outcome {
        tinkex(args)
            .env("HOME", &self.path().display().to_string())
            .env("HF_HUB_CACHE", &self.join(HUB_DIR).display().to_string())
            .kill_after(kill_after)
            .run()
    }

    /// [`Scratch::run`] with `env` added to the child's environment.
    pub fn run_env(&self, args: &[String], env: &[(&str, &str)], kill_after: Duration) -> Outcome {
        env.iter()
            .fold(tinkex(args), |run, (key, value)| run.env(key, value))
            .env("HOME", &self.path().display().to_string())
            .env("HF_HUB_CACHE", &self.join(HUB_DIR).display().to_string())
            .kill_after(kill_after)
            .run()
    }

    /// Runs `program ARGS` (a script that calls tinkex) from this directory, with the
    /// environment [`Scratch::run`] gives tinkex plus `env`; coreutils' `timeout` ends it
    /// (and what it started in its process group) after 5 minutes.
    pub fn run_program(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let started = std::time::Instant::now();
        let output = std::process::Command::new("timeout")
            .args(["--kill-after=5", "300", program])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("HF_HUB_CACHE", self.join(HUB_DIR))
            .env("HF_HUB_OFFLINE", "1")
            .env("TINKEX_RETRY_SCALE", "0")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .envs(env.iter().copied())
            .current_dir(self.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
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

/// `run --base-url URL --api-key KEY` followed by `extra`.
pub fn run_args(url: &str, extra: &[&str]) -> Vec<String> {
    ["run", "--base-url", url, "--api-key", KEY]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}
