//! `--shard K/N` and `tinkex merge` end to end against the demo server: shards run at once in
//! parallel processes merge into exactly what one unsharded run writes; `--shard auto` reads
//! each engine's variables; merge refuses overlap, gaps, disorder and torn tails.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::demo::{DemoConfig, DemoServer, DEFAULT_TOKENIZER};
use crate::support::e2e::{parallel, run_args, Scratch};
use crate::support::run::clean_command;
use crate::support::Outcome;

const LIMIT: Duration = Duration::from_secs(300);

/// A 200-line input: text, token and chat lines with 1–3 samples and fixed seeds; every 50th
/// line is blank (blank lines count in the numbering, as they do for `--shard`).
fn mixed_input() -> String {
    let mut lines = Vec::new();
    for n in 1..=200 {
        let samples = 1 + (n * 7) % 3;
        let line = match n % 50 {
            0 => String::new(),
            _ => match n % 3 {
                0 => format!(
                    r#"{{"id":"t{n}","tokens":[9707,11,{n}],"seed":{n},"num_samples":{samples}}}"#
                ),
                1 => format!(
                    r#"{{"id":"p{n}","prompt":"Question {n}: why?","seed":{n},"num_samples":{samples}}}"#
                ),
                _ => format!(
                    r#"{{"id":"c{n}","messages":[{{"role":"user","content":"Tell me about {n}"}}],"seed":{n},"num_samples":{samples}}}"#
                ),
            },
        };
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

fn path(scratch: &Scratch, name: &str) -> String {
    scratch.join(name).to_string_lossy().into_owned()
}

/// `tinkex run` of `input` into `out` with `extra` flags (the model, tokenizer and max tokens set).
fn batch(
    server: &DemoServer,
    scratch: &Scratch,
    input: &str,
    out: &str,
    extra: &[&str],
) -> Outcome {
    let mut flags = vec![
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        DEFAULT_TOKENIZER,
        "--max-tokens",
        "4",
        "--input",
        input,
        "--output",
        out,
    ];
    flags.extend_from_slice(extra);
    scratch.run(&run_args(&server.url(), &flags), LIMIT)
}

/// `tinkex merge ARGS` (no key, no server).
fn merge(scratch: &Scratch, args: &[&str]) -> Outcome {
    let args: Vec<String> = std::iter::once("merge")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    scratch.run(&args, LIMIT)
}

/// The stderr line that starts with `prefix`, without its timing.
fn status_line<'a>(run: &'a Outcome, prefix: &str) -> &'a str {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?}: {run:?}"));
    line.split(" in ").next().unwrap_or(line)
}

#[test]
fn four_shards_at_once_merge_into_exactly_the_unsharded_output() {
    let server = DemoServer::start(DemoConfig {
        latency_ms: 2,
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let input = scratch.file("in.jsonl", &mixed_input());
    // The unsharded run goes first, so the shards find the tokenizer in the cache it fills.
    let whole = batch(
        &server,
        &scratch,
        &input,
        &path(&scratch, "whole.jsonl"),
        &[],
    );
    assert_eq!(whole.code, 0, "{whole:?}");
    assert_eq!(status_line(&whole, "tinkex: 196/"), "tinkex: 196/196 ok");
    let runs = parallel((1..=4).collect(), 4, |k: usize| {
        let out = path(&scratch, &format!("out-{k}.jsonl"));
        let shard = format!("{k}/4");
        batch(&server, &scratch, &input, &out, &["--shard", &shard])
    });
    // Lines 50, 100, 150 and 200 are blank: two fall in shard 2, two in shard 4.
    for ((k, n), run) in [(1, 50), (2, 48), (3, 50), (4, 48)].iter().zip(&runs) {
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(
            status_line(run, &format!("tinkex: shard {k}/4: ")),
            format!("tinkex: shard {k}/4: {n}/{n} ok")
        );
    }
    let shard_2 = fs::read_to_string(scratch.join("out-2.jsonl")).unwrap();
    assert!(shard_2.starts_with(r#"{"id":"c2","line":2,"#), "{shard_2}");
    assert!(
        shard_2.contains(r#""line":198,"#),
        "global line numbers kept"
    );
    let merged = path(&scratch, "merged.jsonl");
    let journals: Vec<String> = [3, 1, 4, 2]
        .iter()
        .map(|k| path(&scratch, &format!("out-{k}.jsonl")))
        .collect();
    let mut args = vec!["--input", &input, "--output", &merged];
    args.extend(journals.iter().map(String::as_str));
    let run = merge(&scratch, &args);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (0, "tinkex: merged 4 journals: 196/196 ok\n")
    );
    let whole = fs::read(scratch.join("whole.jsonl")).unwrap();
    assert!(whole == fs::read(&merged).unwrap(), "merged ≠ unsharded");
}

/// A 6-line token input and each engine's variables for shard 2 of 3 (lines 2 and 5).
#[test]
fn shard_auto_reads_each_engines_variables() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let lines: Vec<String> = (1..=6)
        .map(|n| format!(r#"{{"tokens":[{n}],"seed":{n}}}"#))
        .collect();
    let input = scratch.file("in.jsonl", &(lines.join("\n") + "\n"));
    let engines: [&[(&str, &str)]; 4] = [
        &[
            ("SLURM_ARRAY_TASK_ID", "11"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ],
        &[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
        ],
        &[("CLOUD_RUN_TASK_INDEX", "1"), ("CLOUD_RUN_TASK_COUNT", "3")],
        &[("JOB_COMPLETION_INDEX", "1"), ("TINKEX_SHARD_COUNT", "3")],
    ];
    for (i, env) in engines.iter().enumerate() {
        let out = path(&scratch, &format!("auto-{i}.jsonl"));
        let flags = [
            "--base-model",
            "Qwen/Qwen3-8B",
            "--tokens-only",
            "--input",
            &input,
            "--output",
            &out,
            "--shard",
            "auto",
        ];
        let run = scratch.run_env(&run_args(&server.url(), &flags), env, LIMIT);
        assert_eq!(run.code, 0, "{env:?}: {run:?}");
        assert_eq!(
            status_line(&run, "tinkex: shard"),
            "tinkex: shard 2/3: 2/2 ok"
        );
        let written: Vec<serde_json::Value> = fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let numbers: Vec<&serde_json::Value> = written.iter().map(|v| &v["line"]).collect();
        assert_eq!(numbers, [2, 5], "{env:?}");
    }
}

#[test]
fn shard_auto_without_a_complete_agreeing_environment_is_exit_2() {
    let scratch = Scratch::new();
    let input = scratch.file("in.jsonl", "{\"tokens\":[1]}\n");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "no job-array variables found (looked for SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT, AWS_BATCH_JOB_ARRAY_INDEX with AWS_BATCH_JOB_ARRAY_SIZE, CLOUD_RUN_TASK_INDEX with CLOUD_RUN_TASK_COUNT, JOB_COMPLETION_INDEX with TINKEX_SHARD_COUNT)"),
        (&[("JOB_COMPLETION_INDEX", "0")], "found JOB_COMPLETION_INDEX=0 (Kubernetes) but not TINKEX_SHARD_COUNT"),
        (
            &[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_STEP", "2")],
            "found SLURM_ARRAY_TASK_STEP=2: a stepped array (e.g. --array=1-7:2) cannot be split into shards; use --array=1-N",
        ),
        (
            &[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), ("AWS_BATCH_JOB_ARRAY_SIZE", "2"), ("CLOUD_RUN_TASK_INDEX", "1"), ("CLOUD_RUN_TASK_COUNT", "2")],
            "the job-array variables disagree: AWS Batch says shard 1/2, Cloud Run says shard 2/2",
        ),
    ];
    let out = path(&scratch, "out.jsonl");
    let flags = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--input",
        &input,
        "--output",
        &out,
        "--shard=auto",
    ];
    // No server: the shard is resolved before anything is read or sent.
    let args = run_args("http://127.0.0.1:9", &flags);
    for (env, message) in cases {
        let run = scratch.run_env(&args, env, LIMIT);
        let expected = format!("tinkex: error: --shard auto: {message}\ntinkex: hint: pass --shard K/N (K is 1-based) to choose the shard yourself\n");
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (2, expected.as_str()),
            "{env:?}"
        );
        assert!(!scratch.join("out.jsonl").exists());
    }
    let bad = scratch.run(
        &run_args("http://127.0.0.1:9", &["--input", &input, "--shard", "0/4"]),
        LIMIT,
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("K must be between 1 and 4 (K is 1-based), got 0/4"),
        "{bad:?}"
    );
    let single = scratch.run(
        &run_args(
            "http://127.0.0.1:9",
            &["--base-model", "m", "--prompt", "hi", "--shard", "1/2"],
        ),
        LIMIT,
    );
    assert_eq!(
        single.error_lines(),
        ["tinkex: error: --shard is for batch mode: it needs --input FILE"]
    );
}

#[test]
fn run_help_says_the_shard_is_one_based() {
    let scratch = Scratch::new();
    let help = scratch.run(&["run".into(), "--help".into()], LIMIT);
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.contains("shard K of N (K is 1-based"),
        "{}",
        help.stdout
    );
    let merge_help = scratch.run(&["merge".into(), "--help".into()], LIMIT);
    assert_eq!(merge_help.code, 0);
    assert!(
        merge_help.stdout.contains("--allow-missing"),
        "{}",
        merge_help.stdout
    );
}

/// A record for line `line` of the inputs below (`{"tokens":[N]}`, blank line 3).
fn record(line: usize) -> String {
    let h = crate::support::input_hash(&format!("{{\"tokens\":[{line}]}}"));
    format!("{{\"id\":{line},\"line\":{line},\"sequences\":[],\"input_hash\":\"{h}\"}}\n")
}

#[test]
fn merge_refuses_overlap_gaps_disorder_and_torn_tails_and_writes_nothing() {
    let scratch = Scratch::new();
    let input = scratch.file(
        "in.jsonl",
        "{\"tokens\":[1]}\n{\"tokens\":[2]}\n\n{\"tokens\":[4]}\n{\"tokens\":[5]}\n",
    );
    let a = scratch.file("a.jsonl", &(record(1) + &record(4)));
    let out = path(&scratch, "merged.jsonl");
    let cases = [
        (
            record(2) + &record(4) + &record(5),
            format!("line 4 is in both {a} and {}", path(&scratch, "b.jsonl"))
                + " (overlapping shards)",
            None,
        ),
        (
            record(5),
            format!("no journal holds line 2 of --input {input} (1 in all); nothing was written"),
            Some("run the shards that hold them (with --resume), or pass --allow-missing"),
        ),
        (
            record(5) + &record(2),
            format!(
                "{}: line 2 comes after line 5; a journal must be in input order",
                path(&scratch, "b.jsonl")
            ),
            Some("a resume that was interrupted can leave it so: run that shard again with --resume, which puts its journal back in order"),
        ),
        (
            record(2) + "{\"id\":5,\"li",
            format!(
                "{}: the last line is torn (its task was interrupted while writing)",
                path(&scratch, "b.jsonl")
            ),
            Some("run that shard again with the same flags and --resume, then merge again"),
        ),
        (
            record(3),
            format!(
                "{}: has a record for line 3, which is blank in --input {input}",
                path(&scratch, "b.jsonl")
            ),
            None,
        ),
    ];
    for (b_text, message, hint) in cases {
        let b = scratch.file("b.jsonl", &b_text);
        let run = merge(&scratch, &["--input", &input, "--output", &out, &a, &b]);
        let mut expected = format!("tinkex: error: {message}\n");
        if let Some(hint) = hint {
            expected += &format!("tinkex: hint: {hint}\n");
        }
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (2, expected.as_str()),
            "{b_text}"
        );
        assert_eq!(run.stdout, "");
        assert!(!Path::new(&out).exists(), "a refused merge leaves no file");
        // To stdout as well: every check before the first byte (line 1 merges fine first).
        let to_stdout = merge(&scratch, &["--input", &input, &a, &b]);
        assert_eq!(
            (
                to_stdout.code,
                to_stdout.stdout.as_str(),
                to_stdout.stderr.as_str()
            ),
            (2, "", expected.as_str()),
            "to stdout: {b_text}"
        );
        assert_eq!(
            scratch.listing_except(&[]),
            ["a.jsonl", "b.jsonl", "in.jsonl"]
        );
    }
}

#[test]
fn merge_with_allow_missing_lists_the_gap_and_failed_lines_set_the_exit_code() {
    let scratch = Scratch::new();
    let input = scratch.file(
        "in.jsonl",
        "{\"tokens\":[1]}\n{\"tokens\":[2]}\n\n{\"tokens\":[4]}\n{\"tokens\":[5]}\n",
    );
    let a = scratch.file("a.jsonl", &(record(1) + &record(5)));
    let run = merge(&scratch, &["--input", &input, "--allow-missing", &a]);
    let warning = format!(
        "tinkex: warning: no journal holds lines 2-4 of --input {input}; merged without them\n"
    );
    assert_eq!(
        (run.code, run.stdout.clone(), run.stderr.clone()),
        (
            0,
            record(1) + &record(5),
            warning + "tinkex: merged 1 journal: 2/4 ok, 2 missing\n"
        )
    );
    let h = crate::support::input_hash("{\"tokens\":[2]}");
    let failed = &format!("{{\"id\":2,\"line\":2,\"error\":{{\"category\":\"server\",\"message\":\"m\"}},\"input_hash\":\"{h}\"}}\n");
    let b = scratch.file("b.jsonl", &(failed.to_string() + &record(4)));
    let run = merge(&scratch, &["--input", &input, "-q", &b, &a]);
    assert_eq!(run.stdout, record(1) + failed + &record(4) + &record(5));
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (4, "tinkex: error: 1 prompt failed (1 server); their lines in the output hold the errors\n")
    );
    let no_input = merge(&scratch, &[&a]);
    assert_eq!(no_input.code, 2);
    assert_eq!(no_input.error_lines(), ["tinkex: error: tinkex merge needs --input FILE (the batch's input file: it says which lines must have a record)"]);
    let onto_itself = merge(&scratch, &["--input", &input, "--output", &a, &a]);
    assert_eq!(
        onto_itself.error_lines(),
        [format!(
            "tinkex: error: --output {a}: is one of the files being read"
        )]
    );
}

#[test]
fn a_killed_shard_resumes_its_own_journal_and_the_merge_is_whole() {
    let server = DemoServer::start(DemoConfig {
        latency_ms: 40,
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let lines: Vec<String> = (1..=40)
        .map(|n| format!(r#"{{"id":"q{n}","tokens":[9707,{n}],"seed":{n}}}"#))
        .collect();
    let input = scratch.file("in.jsonl", &(lines.join("\n") + "\n"));
    let tokens = |out: &str, shard: Option<&str>, resume: bool| {
        let mut flags = vec![
            "--base-model",
            "Qwen/Qwen3-8B",
            "--tokens-only",
            "--max-tokens",
            "3",
            "--parallel",
            "2",
            "--input",
            &input,
            "--output",
            out,
        ];
        if let Some(shard) = shard {
            flags.extend(["--shard", shard]);
        }
        if resume {
            flags.push("--resume");
        }
        run_args(&server.url(), &flags)
    };
    let whole = path(&scratch, "whole.jsonl");
    assert_eq!(scratch.run(&tokens(&whole, None, false), LIMIT).code, 0);
    let (one, two) = (path(&scratch, "out-1.jsonl"), path(&scratch, "out-2.jsonl"));
    assert_eq!(
        scratch.run(&tokens(&one, Some("1/2"), false), LIMIT).code,
        0
    );
    // Shard 2 is killed (SIGKILL: no chance to clean up) once it has written a few lines.
    let mut child = clean_command(&tokens(&two, Some("2/2"), false), scratch.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while fs::read_to_string(&two).map_or(0, |t| t.lines().count()) < 3 {
        assert!(started.elapsed() < LIMIT, "shard 2 wrote nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = fs::read_to_string(&two).unwrap().lines().count();
    assert!(kept < 20, "killed before the end: {kept} lines");
    let merged = path(&scratch, "merged.jsonl");
    let early = merge(
        &scratch,
        &["--input", &input, "--output", &merged, &one, &two],
    );
    assert_eq!(early.code, 2, "{early:?}");
    let resumed = scratch.run(&tokens(&two, Some("2/2"), true), LIMIT);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let resuming = format!(
        "tinkex: shard 2/2: resuming: {kept} of 20 prompts already done, {} to sample",
        20 - kept
    );
    assert!(resumed.stderr.contains(&resuming), "{resumed:?}");
    assert_eq!(
        status_line(&resumed, "tinkex: shard 2/2: 20/"),
        "tinkex: shard 2/2: 20/20 ok"
    );
    let run = merge(
        &scratch,
        &["--input", &input, "--output", &merged, &two, &one],
    );
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (0, "tinkex: merged 2 journals: 40/40 ok\n")
    );
    assert!(
        fs::read(&whole).unwrap() == fs::read(&merged).unwrap(),
        "merged ≠ unsharded"
    );
}

#[test]
fn a_shard_whose_failed_line_is_retried_is_back_in_input_order() {
    let scratch = Scratch::new();
    let lines: Vec<String> = (1..=10)
        .map(|n| format!(r#"{{"id":"q{n}","tokens":[9707,{n}],"seed":{n}}}"#))
        .collect();
    let input = scratch.file("in.jsonl", &(lines.join("\n") + "\n"));
    let tokens = |url: &str, out: &str, shard: Option<&str>, resume: bool| {
        let mut flags = vec![
            "--base-model",
            "Qwen/Qwen3-8B",
            "--tokens-only",
            "--max-tokens",
            "3",
            "--parallel",
            "1",
            "--input",
            &input,
            "--output",
            out,
        ];
        flags.extend(shard.iter().flat_map(|s| ["--shard", s]));
        if resume {
            flags.push("--resume");
        }
        run_args(url, &flags)
    };
    // The first sample request (shard 1's line 1) is refused as invalid: a user failure.
    let faulty = DemoServer::start(DemoConfig {
        faults: vec!["asample=400x1".parse().unwrap()],
        ..DemoConfig::default()
    })
    .unwrap();
    let one = path(&scratch, "out-1.jsonl");
    let failed = scratch.run(&tokens(&faulty.url(), &one, Some("1/2"), false), LIMIT);
    assert_eq!(failed.code, 2, "{failed:?}");
    assert!(fs::read_to_string(&one)
        .unwrap()
        .starts_with(r#"{"id":"q1","line":1,"error""#));
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let url = server.url();
    let resumed = scratch.run(&tokens(&url, &one, Some("1/2"), true), LIMIT);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let numbers: Vec<u64> = fs::read_to_string(&one)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        numbers,
        [1, 3, 5, 7, 9],
        "the retried line went back to its place"
    );
    let two = path(&scratch, "out-2.jsonl");
    assert_eq!(
        scratch
            .run(&tokens(&url, &two, Some("2/2"), false), LIMIT)
            .code,
        0
    );
    let whole = path(&scratch, "whole.jsonl");
    assert_eq!(
        scratch.run(&tokens(&url, &whole, None, false), LIMIT).code,
        0
    );
    let merged = path(&scratch, "merged.jsonl");
    let run = merge(
        &scratch,
        &["--input", &input, "--output", &merged, &one, &two],
    );
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (0, "tinkex: merged 2 journals: 10/10 ok\n")
    );
    assert!(
        fs::read(&whole).unwrap() == fs::read(&merged).unwrap(),
        "merged ≠ unsharded"
    );
}
