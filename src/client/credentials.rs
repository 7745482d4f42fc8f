//! The credential command (`TINKER_CREDENTIAL_CMD`): run bounded by the deadline, in its own
//! process group, its output checked; the stored login key is read in `stored.rs`.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::cleanup;
use crate::client::jwt;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

/// The variable that names the credential command.
pub(crate) const COMMAND_VAR: &str = "TINKER_CREDENTIAL_CMD";

/// More than this on the command's stdout cannot be a credential.
const MAX_OUTPUT: usize = 64 * 1024;

/// How often a running command is checked for having exited when it prints nothing.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// The `TINKER_CREDENTIAL_CMD` shell command; run afresh each time a credential is needed.
#[derive(Clone)]
pub(crate) struct CredentialCommand {
    line: String,
}

impl CredentialCommand {
    /// Wraps the command line (never logged: it may embed a secret).
    pub(crate) fn new(line: impl Into<String>) -> CredentialCommand {
        CredentialCommand { line: line.into() }
    }

    /// Runs the command (bounded by `deadline`) and returns the credential it printed.
    ///
    /// The output is registered as a secret before any check, so no error or log shows it.
    pub(crate) fn fetch(&self, deadline: &Deadline) -> Result<String> {
        const STEP: &str = "running TINKER_CREDENTIAL_CMD";
        deadline.check(STEP)?;
        let started = std::time::Instant::now();
        let (status, stdout) = match run_bounded(&self.line, deadline)? {
            Some(done) => done,
            None => return Err(deadline.timeout_error(STEP)),
        };
        let text = String::from_utf8(stdout).ok();
        if let Some(text) = &text {
            crate::redact::register_secret(text);
        }
        log::debug!("{COMMAND_VAR} ran in {:?} ({status})", started.elapsed());
        if !status.success() {
            return Err(command_error(format!("{COMMAND_VAR} failed ({status})")));
        }
        let text = text.ok_or_else(|| {
            command_error(format!(
                "{COMMAND_VAR} printed something that is not UTF-8 text"
            ))
        })?;
        let credential = text.trim();
        if credential.is_empty() {
            return Err(command_error(format!("{COMMAND_VAR} printed nothing")));
        }
        check_printed(credential)?;
        Ok(credential.to_string())
    }
}

/// An auth error about the command, pointing at its own messages on stderr.
fn command_error(message: String) -> Error {
    Error::Auth {
        message,
        hint: Some(format!(
            "check the command in {COMMAND_VAR}; anything it wrote to stderr is shown above"
        )),
    }
}

/// The command's output must be a credential the server could take: a live JWT or a `tml-` key.
fn check_printed(credential: &str) -> Result<()> {
    if credential.starts_with("eyJ") {
        if jwt::jwt_expired(credential) {
            return Err(command_error(format!(
                "{COMMAND_VAR} printed a JWT that has expired"
            )));
        }
        return Ok(());
    }
    if !credential.starts_with("tml-") || credential.chars().any(|c| c.is_control() || c == ' ') {
        return Err(command_error(format!(
            "{COMMAND_VAR} printed something that is neither a 'tml-' API key nor a JWT"
        )));
    }
    Ok(())
}

/// Runs `sh -c line` in its own process group; `None` when the deadline passed first.
///
/// A process group, so that at the deadline everything the command started dies with it
/// (a grandchild would otherwise keep our pipe, and itself, alive). Stdout is read by
/// polling in this thread: no helper thread can outlive the call.
fn run_bounded(line: &str, deadline: &Deadline) -> Result<Option<(ExitStatus, Vec<u8>)>> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(line)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| command_error(format!("{COMMAND_VAR} could not be started: {e}")))?;
    let pgid = libc::pid_t::try_from(child.id()).unwrap_or(0);
    // Recorded so a signal handler can kill the group (src/cleanup.rs) before exiting.
    cleanup::set_running_group(pgid);
    let outcome = collect(&mut child, deadline);
    if !matches!(outcome, Ok(Some(_))) {
        kill_group(&mut child);
    }
    cleanup::set_running_group(0);
    outcome
}

/// Has the kernel SIGKILL the command if tinkex dies first, even by SIGKILL, when no
/// handler can run. (It reaches the command itself; what the command started in turn is
/// left to the command.) The kernel watches the spawning thread, which waits here.
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only makes the
    // async-signal-safe calls prctl, getppid and _exit.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl: then nobody would send the signal.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Reads the child's stdout until it exits, the output grows too large, or the deadline.
fn collect(child: &mut Child, deadline: &Deadline) -> Result<Option<(ExitStatus, Vec<u8>)>> {
    let mut pipe = child.stdout.take();
    let mut out = Vec::new();
    loop {
        let exited = child
            .try_wait()
            .map_err(|e| command_error(format!("{COMMAND_VAR} could not be waited for: {e}")))?;
        let wait = if exited.is_some() {
            Duration::ZERO
        } else {
            deadline.cap(POLL_EVERY)
        };
        if exited.is_none() && wait.is_zero() {
            return Ok(None);
        }
        match pipe.as_mut() {
            Some(reader) if readable(reader, wait) => {
                let mut chunk = [0u8; 4096];
                match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => pipe = None,
                    Ok(n) => out.extend_from_slice(&chunk[..n]),
                }
                if out.len() > MAX_OUTPUT {
                    return Err(command_error(format!(
                        "{COMMAND_VAR} printed more than {} KiB",
                        MAX_OUTPUT / 1024
                    )));
                }
                continue;
            }
            Some(_) => {}
            None => std::thread::sleep(wait),
        }
        // Once it has exited, what was left in the pipe has been read; a background
        // grandchild holding the pipe open must not keep us waiting.
        if let Some(status) = exited {
            return Ok(Some((status, out)));
        }
    }
}

/// Whether `reader` has data (or end of file) within `wait`.
fn readable(reader: &std::process::ChildStdout, wait: Duration) -> bool {
    let mut fds = libc::pollfd {
        fd: reader.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd, owned by this frame, for the duration of the call.
    let ready = unsafe { libc::poll(&mut fds, 1, millis) };
    ready > 0 && fds.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}

/// Kills the command's whole process group and reaps the shell.
fn kill_group(child: &mut Child) {
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: plain kill(2) on the group we created; failure (already gone) is fine.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Command-running tests take turns: one of them kills whatever command is running.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn the_command_output_is_trimmed_and_checked() {
        let _turn = serial();
        let deadline = Deadline::after(Duration::from_secs(10));
        let run = |line: &str| CredentialCommand::new(line).fetch(&deadline);
        assert_eq!(
            run("printf '  tml-from-cmd-1234\\n\\n'").unwrap(),
            "tml-from-cmd-1234"
        );
        for (line, expected) in [
            ("exit 3", "failed (exit status: 3)"),
            ("printf '\\n  \\n'", "printed nothing"),
            ("echo sk-not-a-key-123; exit 0", "neither"),
            ("head -c 70000 /dev/zero | tr '\\0' a", "more than 64 KiB"),
        ] {
            let err = run(line).unwrap_err();
            assert_eq!(err.exit_code(), 3, "{line}");
            assert!(err.to_string().contains(expected), "{line}: {err}");
            assert!(err.to_string().contains(COMMAND_VAR), "{err}");
            assert!(!err.to_string().contains("sk-not"), "{err}");
        }
    }

    #[test]
    fn a_hung_command_ends_at_the_deadline_with_its_children() {
        let _turn = serial();
        let dir = std::env::temp_dir().join(format!("tinkex-cred-hang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("late");
        // The subshell is a grandchild: killing only `sh` would leave it to touch the marker.
        let line = format!("(sleep 0.4; touch '{}') & wait", marker.display());
        let started = std::time::Instant::now();
        let deadline = Deadline::after(Duration::from_millis(150));
        let err = CredentialCommand::new(line).fetch(&deadline).unwrap_err();
        assert_eq!(err.exit_code(), 5, "{err}");
        assert!(err.to_string().contains("TINKER_CREDENTIAL_CMD"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(400));
        std::thread::sleep(Duration::from_millis(600));
        assert!(
            !marker.exists(),
            "a child of the command outlived the deadline"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_background_child_holding_stdout_does_not_block() {
        let _turn = serial();
        let deadline = Deadline::after(Duration::from_secs(10));
        let started = std::time::Instant::now();
        let key = CredentialCommand::new("sleep 3 & echo tml-background-key")
            .fetch(&deadline)
            .unwrap();
        assert_eq!(key, "tml-background-key");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_signal_handler_can_kill_the_running_command() {
        let _turn = serial();
        let runner = std::thread::spawn(|| {
            let deadline = Deadline::after(Duration::from_secs(20));
            CredentialCommand::new("sleep 20").fetch(&deadline)
        });
        let started = std::time::Instant::now();
        while cleanup::running_group() == 0 {
            assert!(started.elapsed() < Duration::from_secs(5), "never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        cleanup::kill_running_group();
        let err = runner.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("failed (signal: 9"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(cleanup::running_group(), 0);
    }
}
