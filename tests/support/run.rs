//! The one way tests run the built `tinkex` binary: a clean environment, optional stdin,
//! optional kill-after; the outcome holds the exit code, stdout, stderr and wall time.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished process left behind.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (-1 when killed by a signal or by the kill-after limit).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl Outcome {
    /// Exit code, stdout and stderr together, for one exact comparison.
    pub fn parts(&self) -> (i32, &str, &str) {
        (self.code, &self.stdout, &self.stderr)
    }

    /// The `tinkex: error: …` lines of stderr.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("tinkex: error: "))
            .collect()
    }
}

/// A bare `tinkex` command with nothing of the host's environment but `PATH`: `HOME` is
/// `home`, the Hugging Face hub is offline, retries do not wait, loopback skips proxies; run
/// from the crate root. For tests that signal the child or close its pipes themselves.
pub fn clean_command<S: AsRef<OsStr>>(args: &[S], home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tinkex"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HF_HUB_OFFLINE", "1")
        .env("TINKEX_RETRY_SCALE", "0")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// A `tinkex` invocation under construction (see [`clean_command`] for its environment).
pub struct Tinkex {
    command: Command,
    stdin: Option<Vec<u8>>,
    kill_after: Option<Duration>,
    _home: tempfile::TempDir,
}

/// Starts building a `tinkex` run with these arguments and a fresh, empty `HOME`.
pub fn tinkex<S: AsRef<OsStr>>(args: &[S]) -> Tinkex {
    let home = tempfile::tempdir().expect("temp HOME");
    Tinkex {
        command: clean_command(args, home.path()),
        stdin: None,
        kill_after: None,
        _home: home,
    }
}

impl Tinkex {
    /// Sets an environment variable for the child (`HOME` included).
    pub fn env(mut self, key: &str, value: &str) -> Tinkex {
        self.command.env(key, value);
        self
    }

    /// Feeds `bytes` on stdin (otherwise stdin is empty).
    pub fn stdin(mut self, bytes: &[u8]) -> Tinkex {
        self.stdin = Some(bytes.to_vec());
        self
    }

    /// Kills the child if it outlives `limit` (its code is then -1).
    pub fn kill_after(mut self, limit: Duration) -> Tinkex {
        self.kill_after = Some(limit);
        self
    }

    /// Runs to completion and collects the outcome. Output goes to files, not pipes, so a
    /// child that writes a lot never blocks while the harness waits.
    pub fn run(mut self) -> Outcome {
        let captured = tempfile::tempdir().expect("capture dir");
        let out_path = captured.path().join("stdout");
        let err_path = captured.path().join("stderr");
        self.command
            .stdout(File::create(&out_path).expect("stdout file"))
            .stderr(File::create(&err_path).expect("stderr file"))
            .stdin(match self.stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            });
        let started = Instant::now();
        let mut child = self.command.spawn().expect("spawn tinkex");
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let code = loop {
            if let Some(status) = child.try_wait().expect("wait for tinkex") {
                break status.code().unwrap_or(-1);
            }
            if self
                .kill_after
                .is_some_and(|limit| started.elapsed() > limit)
            {
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
            thread::sleep(Duration::from_millis(5));
        };
        Outcome {
            code,
            elapsed: started.elapsed(),
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }
}
