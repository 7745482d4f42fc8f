//! Regressions of issue 13's batch, signal and file items, against the built binary.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::e2e::{parallel, run_args, Scratch};
use crate::support::run::clean_command;
use crate::support::slow_api::{entries, feed, group_alive, signal, spawn, wait_until, SlowApi};
use crate::support::{tinkex, MockTinker, HINT, KEY};

const TRY_AGAIN: &str = r#"{"type":"try_again","request_id":"req-1","queue_state":"active"}"#;
const RESULT: &str = r#"{"sequences":[{"tokens":[7],"logprobs":[-1.0],"stop_reason":"length"}]}"#;

#[test]
fn an_auth_failure_at_line_6_always_ends_the_batch_with_exit_3() {
    // The original hang: 40 lines at 1 s latency, line 6 answered 401, 4 workers.
    let api = SlowApi::start(Duration::from_secs(1), Some(6));
    let runs = parallel((0..6).collect(), 6, |_: usize| {
        let scratch = Scratch::new();
        let lines: Vec<String> = (1..=40)
            .map(|n| format!("{{\"tokens\": [{n}]}}\n"))
            .collect();
        let input = scratch.file("in.jsonl", &lines.concat());
        let output = scratch.join("out.jsonl").display().to_string();
        let extra = [
            "--base-model",
            "m",
            "--tokens-only",
            "--parallel",
            "4",
            "--input",
            &input,
            "--output",
            &output,
        ];
        let run = scratch.run(&run_args(&api.url, &extra), Duration::from_secs(30));
        (run, fs::read_to_string(&output).unwrap_or_default())
    });
    for (run, output) in runs {
        assert_eq!(run.code, 3, "{run:?}");
        let stderr: Vec<&str> = run.stderr.lines().collect();
        assert!(
            stderr[0].starts_with("tinkex: 5/40 ok, 1 failed (1 auth) in "),
            "{stderr:?}"
        );
        assert_eq!(
            stderr[1],
            "tinkex: error: 1 prompt failed (1 auth); their lines in the output hold the errors"
        );
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 6, "{output}");
        assert!(
            lines[5].contains(r#""line":6,"error":{"category":"auth""#),
            "{output}"
        );
    }
}

#[test]
fn a_spooled_stdin_leaves_nothing_in_tmpdir() {
    let api = MockTinker::answering(RESULT);
    for (stdin, code) in [(&b"{\"tokens\": [1]}\n"[..], 0), (&b"not json\n"[..], 2)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = api
            .tinkex(&["--base-model", "m", "--tokens-only", "--input", "-", "-q"])
            .env("TMPDIR", &tmp.path().display().to_string())
            .stdin(stdin)
            .run();
        assert_eq!(out.code, code, "{out:?}");
        assert_eq!(entries(tmp.path()), Vec::<String>::new());
    }
    // Interrupted while sampling: the spool was never visible, and nothing is left.
    let slow = SlowApi::start(Duration::from_secs(30), None);
    let (home, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let tmp_arg = tmp.path().display().to_string();
    let args = run_args(
        &slow.url,
        &["--base-model", "m", "--tokens-only", "--input", "-"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = spawn(&args, &[("TMPDIR", &tmp_arg)], home.path());
    feed(&mut child, b"{\"tokens\": [1]}\n");
    let sampling = wait_until(Duration::from_secs(20), || {
        slow.asamples.load(std::sync::atomic::Ordering::SeqCst) > 0
    });
    assert!(sampling, "the batch reached the server");
    assert_eq!(entries(tmp.path()), Vec::<String>::new(), "no named spool");
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}

#[test]
fn parallel_and_http_pool_out_of_range_are_usage_errors_before_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    fs::write(&input, "{\"tokens\": [1]}\n").unwrap();
    let (input, output) = (input.display().to_string(), dir.path().join("out.jsonl"));
    let output_arg = output.display().to_string();
    for (flag, value) in [
        ("--parallel", "0"),
        ("--parallel", "1025"),
        ("--parallel", "100000"),
        ("--parallel", "4000000000"),
        ("--http-pool", "0"),
        ("--http-pool", "4000000000"),
    ] {
        let args = [
            "run",
            "--base-model",
            "m",
            "--api-key",
            KEY,
            "--tokens-only",
            "--input",
            &input,
            "--output",
            &output_arg,
            flag,
            value,
        ];
        let out = tinkex(&args).run();
        let message = format!(
            "tinkex: error: invalid value '{value}' for {flag}: must be from 1 to 1024\n{HINT}"
        );
        assert_eq!(out.parts(), (2, "", message.as_str()));
        assert!(!output.exists(), "{flag} {value} created the output");
    }
}

/// A journal of 50 MB whose first line failed, so that `--resume` rewrites it (slowly enough
/// to catch the temp file), and the input that goes with it.
fn big_journal(dir: &Path) -> (String, String) {
    let pad = "x".repeat(1 << 20);
    let mut journal = String::from(
        "{\"id\":0,\"line\":1,\"error\":{\"category\":\"server\",\"message\":\"x\"}}\n",
    );
    let mut input = String::new();
    for n in 0..=50 {
        let line = format!("{{\"id\": {n}, \"tokens\": [1]}}");
        input.push_str(&format!("{line}\n"));
        if n > 0 {
            let (number, h) = (n + 1, crate::support::input_hash(&line));
            journal.push_str(&format!(
                "{{\"id\":{n},\"line\":{number},\"sequences\":[],\"pad\":\"{pad}\",\"input_hash\":\"{h}\"}}\n"
            ));
        }
    }
    let (input_path, journal_path) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    fs::write(&input_path, input).unwrap();
    fs::write(&journal_path, journal).unwrap();
    (
        input_path.display().to_string(),
        journal_path.display().to_string(),
    )
}

#[test]
fn sighup_and_sigquit_exit_129_and_131_and_remove_the_temp_file() {
    let api = MockTinker::answering(TRY_AGAIN);
    for (sig, code) in [(libc::SIGHUP, 129), (libc::SIGQUIT, 131)] {
        let mut caught = 0;
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let (input, journal) = big_journal(dir.path());
            let extra = [
                "--base-model",
                "m",
                "--tokens-only",
                "--input",
                &input,
                "--output",
                &journal,
                "--resume",
            ];
            let base = api.args();
            let args = crate::support::with_args(&base, &extra);
            let mut child = spawn(&args, &[], dir.path());
            let temp = || entries(dir.path()).iter().any(|n| n.ends_with(".tmp"));
            let seen = wait_until(Duration::from_secs(5), temp);
            signal(&child, sig);
            assert_eq!(child.wait().unwrap().code(), Some(code));
            assert!(!temp(), "the temp file is gone: {:?}", entries(dir.path()));
            caught += usize::from(seen);
            if seen {
                break;
            }
        }
        assert!(
            caught > 0,
            "the signal never arrived while the temp file existed"
        );
    }
}

/// `tinkex run` with a token prompt and the credential command `command`, no API key.
fn with_credential_command(url: &str, command: &str, home: &Path) -> Child {
    let args = [
        "run",
        "--base-url",
        url,
        "--base-model",
        "m",
        "--prompt-file",
        "-",
        "--tokens-only",
        "--timeout",
        "60",
    ];
    let mut child = spawn(&args, &[("TINKER_CREDENTIAL_CMD", command)], home);
    feed(&mut child, b"[1]");
    child
}

#[test]
fn the_credential_command_dies_with_tinkex_on_sighup_and_on_sigkill() {
    let api = MockTinker::answering(RESULT);
    for sig in [libc::SIGHUP, libc::SIGKILL] {
        let home = tempfile::tempdir().unwrap();
        let pidfile = home.path().join("pid");
        // SIGHUP: the handler kills the whole group (sh and its sleep); SIGKILL: no handler
        // runs, and the kernel kills the command itself (sh has exec'd sleep).
        let command = match sig {
            libc::SIGHUP => format!("echo $$ > '{}'; sleep 30; echo {KEY}", pidfile.display()),
            _ => format!("echo $$ > '{}'; exec sleep 30", pidfile.display()),
        };
        let mut child = with_credential_command(&api.url(), &command, home.path());
        let started = wait_until(Duration::from_secs(20), || {
            fs::read_to_string(&pidfile).is_ok_and(|p| p.ends_with('\n'))
        });
        assert!(started, "the credential command ran");
        let pid = fs::read_to_string(&pidfile).unwrap().trim().to_string();
        assert!(group_alive(&pid));
        // tinkex notes the command's group only once spawn() returns, which on a busy machine
        // can be after the command has started; a signal before that reaches sh (through
        // PDEATHSIG) but not its sleep. Give the parent that moment.
        thread::sleep(Duration::from_millis(200));
        signal(&child, sig);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), (sig == libc::SIGHUP).then_some(129));
        let gone = wait_until(Duration::from_secs(5), || !group_alive(&pid));
        assert!(gone, "the credential command outlived tinkex ({sig})");
    }
}

#[test]
fn a_replaced_output_keeps_its_mode() {
    let api = MockTinker::answering(RESULT);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.txt");
    fs::write(&output, "old").unwrap();
    fs::set_permissions(&output, fs::Permissions::from_mode(0o600)).unwrap();
    let output_arg = output.display().to_string();
    let out = api
        .tinkex(&[
            "--base-model",
            "m",
            "--prompt-file",
            "-",
            "--tokens-only",
            "--output",
            &output_arg,
        ])
        .stdin(b"[1]")
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fs::read_to_string(&output).unwrap(), "7\n");
    assert_eq!(
        fs::metadata(&output).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // --resume compaction replaces the journal too.
    let input = crate::support::write_input(
        dir.path(),
        &["{\"id\": 0, \"tokens\": [1]}", "{\"tokens\": [2]}"],
    );
    let journal = dir.path().join("out.jsonl").display().to_string();
    let failed = "{\"id\":0,\"line\":1,\"error\":{\"category\":\"server\",\"message\":\"m\"}}\n";
    fs::write(&journal, failed).unwrap();
    fs::set_permissions(&journal, fs::Permissions::from_mode(0o640)).unwrap();
    let out = api
        .tinkex(&[
            "--base-model",
            "m",
            "--tokens-only",
            "--input",
            &input,
            "--output",
            &journal,
            "--resume",
            "-q",
        ])
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fs::read_to_string(&journal).unwrap().lines().count(), 2);
    assert_eq!(
        fs::metadata(&journal).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn batch_timeout_ends_a_batch_whose_stdout_nobody_reads() {
    // Each line is ~30 KB, so the writer blocks on the full pipe after a few lines.
    let tokens: Vec<String> = (0..3000).map(|n| n.to_string()).collect();
    let logprobs = vec!["-1.0"; 3000].join(",");
    let result = format!(
        r#"{{"sequences":[{{"tokens":[{}],"logprobs":[{logprobs}],"stop_reason":"length"}}]}}"#,
        tokens.join(",")
    );
    let api = MockTinker::answering(&result);
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (1..=40).map(|n| format!("{{\"tokens\": [{n}]}}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let input = crate::support::write_input(dir.path(), &lines);
    let stderr_path = dir.path().join("stderr");
    let extra = [
        "--base-model",
        "m",
        "--tokens-only",
        "--input",
        &input,
        "--batch-timeout",
        "2",
    ];
    let base = api.args();
    // stdout is a pipe nobody reads (kept open, so writes block rather than fail).
    let mut child = clean_command(&crate::support::with_args(&base, &extra), dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let ended = wait_until(Duration::from_secs(20), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let code = child.wait().unwrap().code();
    let stderr = fs::read_to_string(&stderr_path).unwrap();
    assert!(ended, "still running after 20 s: {stderr}");
    assert_eq!(code, Some(5), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr: Vec<&str> = stderr.lines().collect();
    assert!(
        stderr[0].starts_with("tinkex: ") && stderr[0].contains("/40 ok"),
        "{stderr:?}"
    );
    assert_eq!(stderr[1], "tinkex: error: --batch-timeout passed before the batch was done; prompts without a line in the output were not sampled");
}

#[test]
fn batch_timeout_ends_a_stdin_that_never_closes() {
    stdin_that_never_closes_ends_at("--batch-timeout");
}

#[test]
fn without_batch_timeout_the_timeout_ends_a_stdin_that_never_closes() {
    // The batch itself is unbounded; reading its input is not.
    stdin_that_never_closes_ends_at("--timeout");
}

/// A batch on a stdin held open and empty ends after 1 s by `flag` (exit 5, naming stdin).
fn stdin_that_never_closes_ends_at(flag: &str) {
    let api = MockTinker::answering(RESULT);
    let home = tempfile::tempdir().unwrap();
    let extra = [
        "--base-model",
        "m",
        "--tokens-only",
        "--input",
        "-",
        flag,
        "1",
    ];
    let mut child = api
        .command(&extra, home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The stdin pipe stays open and empty while tinkex waits.
    let _stdin = child.stdin.take();
    let ended = wait_until(Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ended, "still reading stdin after 10 s");
    assert_eq!(
        (output.status.code(), stderr.as_ref()),
        (
            Some(5),
            "tinkex: error: timed out after 1 s while reading --input - (stdin)\n"
        )
    );
}
