//! Issue 23's input, journal and merge findings against the built binary: every read bounded
//! in time and size, journals checked against the input they were made from.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::e2e::{run_args, Scratch};
use crate::support::run::{clean_command, tinkex};

/// A port nothing listens on: a run that got past reading its input would fail there (exit 4).
const DEAD: &str = "http://127.0.0.1:9";

fn hash(line: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(line.as_bytes()))
}

fn input_line(n: usize) -> String {
    format!("{{\"tokens\": [{n}]}}")
}

fn record(n: usize, made_from: &str) -> String {
    let h = hash(made_from);
    format!("{{\"id\":{n},\"line\":{n},\"sequences\":[],\"input_hash\":\"{h}\"}}\n")
}

#[test]
fn a_silent_stdin_prompt_ends_at_the_timeout_naming_the_step() {
    let home = tempfile::tempdir().unwrap();
    let args = run_args(
        DEAD,
        &[
            "--base-model",
            "m",
            "--tokens-only",
            "--prompt-file",
            "-",
            "--timeout",
            "1",
        ],
    );
    let mut child = clean_command(&args, home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _held_open = child.stdin.take();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("still waiting for stdin after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(5), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("while reading the prompt from stdin"),
        "{stderr}"
    );
}

#[test]
fn an_endless_prompt_is_refused_at_the_limit() {
    let run = tinkex(&run_args(
        DEAD,
        &[
            "--base-model",
            "m",
            "--tokens-only",
            "--prompt-file",
            "/dev/zero",
        ],
    ))
    .kill_after(Duration::from_secs(30))
    .run();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("--prompt-file /dev/zero: larger than the 4 MiB limit"),
        "{run:?}"
    );
}

#[test]
fn merge_refuses_an_endless_line_naming_the_file_and_row() {
    let scratch = Scratch::new();
    let input = scratch.file("in.jsonl", &format!("{}\n", input_line(1)));
    let run = tinkex(&["merge", "--input", &input, "/dev/zero"])
        .kill_after(Duration::from_secs(60))
        .run();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("/dev/zero: row 1: cannot read it: a line is longer than the 64 MiB limit"),
        "{run:?}"
    );
    let run = tinkex(&["merge", "--input", "/dev/zero", &input])
        .kill_after(Duration::from_secs(60))
        .run();
    assert_eq!(run.code, 2, "{run:?}");
}

fn resume(scratch: &Scratch, input: &str, output: &str) -> crate::support::run::Outcome {
    let extra = [
        "--base-model",
        "m",
        "--tokens-only",
        "--input",
        input,
        "--output",
        output,
        "--resume",
    ];
    scratch.run(&run_args(DEAD, &extra), Duration::from_secs(30))
}

#[test]
fn resume_refuses_the_input_itself_as_its_journal() {
    let scratch = Scratch::new();
    let content = "{\"id\":\"a\",\"tokens\":[1]}\n{\"tokens\":[2]}\n";
    let input = scratch.file("in.jsonl", content);
    let linked = scratch.join("hard.jsonl");
    fs::hard_link(&input, &linked).unwrap();
    for output in [input.clone(), linked.display().to_string()] {
        let run = resume(&scratch, &input, &output);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(
            run.stderr.contains("is not a tinkex journal record"),
            "{run:?}"
        );
        assert_eq!(fs::read_to_string(&input).unwrap(), content, "untouched");
    }
}

#[test]
fn resume_refuses_a_journal_made_from_another_input_or_command() {
    let scratch = Scratch::new();
    let monday = [input_line(1), input_line(2), input_line(3)];
    let tuesday = scratch.file(
        "tue.jsonl",
        &[input_line(7), input_line(8), input_line(9)]
            .map(|l| l + "\n")
            .concat(),
    );
    let journal = record(1, &monday[0]) + &record(2, &monday[1]);
    let output = scratch.file("daily.jsonl", &journal);
    let run = resume(&scratch, &tuesday, &output);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("row 1 was made from another input: line 1 of the input differs"),
        "{run:?}"
    );
    assert_eq!(fs::read_to_string(&output).unwrap(), journal, "untouched");
    let other_ids = scratch.file(
        "ids.jsonl",
        &record(5, "{}").replace("\"id\":5", "\"id\":\"x\""),
    );
    let run = resume(&scratch, &tuesday, &other_ids);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("row 1 answers no line of this input"),
        "{run:?}"
    );
    let score = scratch.file(
        "score.jsonl",
        &record(1, &input_line(7)).replace("sequences", "results"),
    );
    let run = resume(&scratch, &tuesday, &score);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("is a journal of tinkex score, not of tinkex run"),
        "{run:?}"
    );
    let old = scratch.file("old.jsonl", "{\"id\":1,\"line\":1,\"sequences\":[]}\n");
    let run = resume(&scratch, &tuesday, &old);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("has no \"input_hash\""), "{run:?}");
}

#[test]
fn a_dangling_output_link_is_refused_and_its_target_not_created() {
    let scratch = Scratch::new();
    let input = scratch.file("in.jsonl", &format!("{}\n", input_line(1)));
    let target = scratch.join("elsewhere.jsonl");
    let link = scratch.join("out.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let extra = [
        "--base-model",
        "m",
        "--tokens-only",
        "--input",
        &input,
        "--output",
        link.to_str().unwrap(),
    ];
    let run = scratch.run(&run_args(DEAD, &extra), Duration::from_secs(30));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("is a symbolic link to a missing file"),
        "{run:?}"
    );
    assert!(!target.exists());
}

#[test]
fn shard_variables_are_escaped_and_cut_in_errors() {
    let scratch = Scratch::new();
    let input = scratch.file("in.jsonl", &format!("{}\n", input_line(1)));
    let hostile = format!("1\u{1b}[31m{}", "9".repeat(100_000));
    let extra = [
        "--base-model",
        "m",
        "--tokens-only",
        "--input",
        &input,
        "--shard",
        "auto",
    ];
    let env = [
        ("SLURM_ARRAY_TASK_ID", hostile.as_str()),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
    ];
    let run = scratch.run_env(&run_args(DEAD, &extra), &env, Duration::from_secs(30));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        !run.stderr.contains('\u{1b}'),
        "{}",
        &run.stderr[..200.min(run.stderr.len())]
    );
    assert!(run.stderr.len() < 4_000, "{} bytes", run.stderr.len());
}

#[test]
fn merge_of_many_journals_stays_under_a_low_open_file_limit() {
    let scratch = Scratch::new();
    let count = 300;
    let lines: Vec<String> = (1..=count).map(input_line).collect();
    let input = scratch.file(
        "in.jsonl",
        &lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    );
    let journals: Vec<String> = (1..=count)
        .map(|n| scratch.file(&format!("j{n:03}.jsonl"), &record(n, &lines[n - 1])))
        .collect();
    let output = scratch.join("merged.jsonl");
    let script = "ulimit -n 40 && exec \"$@\"";
    let home = tempfile::tempdir().unwrap();
    let mut command = clean_command(&[] as &[&str], home.path());
    let tinkex_bin = env!("CARGO_BIN_EXE_tinkex");
    let run = Command::new("sh")
        .args([
            "-c", script, "sh", tinkex_bin, "merge", "--input", &input, "--output",
        ])
        .arg(&output)
        .args(&journals)
        .envs(
            command
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let _ = &mut command;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let merged = fs::read_to_string(&output).unwrap();
    let expected: String = (1..=count).map(|n| record(n, &lines[n - 1])).collect();
    assert_eq!(merged, expected);
}
