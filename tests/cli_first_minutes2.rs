//! Issue 29, "the first ten minutes, round two" (the cli items): a forgotten value, --output
//! checked before sampling, the official CLI's habits, options that did nothing, help, the
//! cache listing and the checkpoint listing hint, each against the built binary.

use std::fs;

use serde_json::Value;

use crate::support::catalog::{answers, CatalogApi};
use crate::support::{small_tokenizer, tinkex, MockTinker, Outcome, KEY};

const RESULT: &str = r#"{"sequences":[{"tokens":[7],"logprobs":[-1.0],"stop_reason":"length"}]}"#;

/// Runs a read command against `api` with the key given as a flag.
fn read(api: &CatalogApi, args: &[&str]) -> Outcome {
    let url = api.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--base-url", &url, "--api-key", KEY]);
    tinkex(&all).run()
}

#[test]
fn a_flag_where_a_value_belongs_is_named() {
    let out = tinkex(&["run", "--base-model", "m", "--prompt", "--json"]).run();
    let want = "tinkex: error: --prompt needs a value; '--json' is a flag\n\
                tinkex: hint: give --prompt its value, or write --prompt=--json if '--json' is the value\n";
    assert_eq!(out.parts(), (2, "", want));
    let out = tinkex(&["run", "--base-model", "--prompt", "hi"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .starts_with("tinkex: error: --base-model needs a value; '--prompt' is a flag\n"),
        "{out:?}"
    );
    // The literal stays possible.
    let tokenizer = small_tokenizer();
    let out = tinkex(&[
        "run",
        "--base-model",
        "m",
        "--tokenizer",
        &tokenizer,
        "--prompt=--json",
        "--print-prompt",
    ])
    .run();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("--json"), "{out:?}");
}

#[test]
fn an_unwritable_output_is_refused_before_any_request() {
    let mut api = MockTinker::new();
    let asample = api
        .server
        .mock("POST", "/api/v1/asample")
        .expect(0)
        .create();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().display().to_string();
    let out = api
        .tinkex(&["--base-model", "m", "--tokens-only", "--output", &folder])
        .stdin(b"[1, 2]")
        .run();
    let want = format!("tinkex: error: --output {folder}: is a directory\n");
    assert_eq!(out.parts(), (2, "", want.as_str()));
    let file = dir.path().join("file");
    fs::write(&file, "x").unwrap();
    let inside = file.join("out.json").display().to_string();
    let out = api
        .tinkex(&["--base-model", "m", "--tokens-only", "--output", &inside])
        .stdin(b"[1, 2]")
        .run();
    assert_eq!(out.code, 2, "{out:?}");
    let want = format!("tinkex: error: --output {inside}: cannot create its directory");
    assert!(out.stderr.starts_with(&want), "{out:?}");
    asample.assert();
}

#[test]
fn the_official_clis_commands_get_a_hint() {
    let out = tinkex(&["run", "list"]).run();
    let want = "tinkex: error: unexpected argument 'list'\n\
                tinkex: hint: tinkex calls them training runs: tinkex training-run list\n";
    assert_eq!(out.parts(), (2, "", want));
    let out = tinkex(&["session", "list"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("hint: tinkex opens a session per command"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("version"), "{out:?}");
}

#[test]
fn format_json_and_table_work_before_and_after_the_command() {
    let api = CatalogApi::new().serve(answers());
    let json = read(&api, &["model", "list", "--json"]);
    assert_eq!(json.code, 0, "{json:?}");
    for args in [
        &["-f", "json", "model", "list"][..],
        &["model", "list", "-f", "json"],
        &["--format", "json", "model", "list"],
        &["model", "list", "--format=json"],
    ] {
        assert_eq!(read(&api, args).parts(), json.parts(), "{args:?}");
    }
    let table = read(&api, &["model", "list"]);
    let formatted = read(&api, &["model", "list", "--format", "table"]);
    assert_eq!(formatted.parts(), table.parts());
    let out = tinkex(&["model", "list", "--format", "csv"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .starts_with("tinkex: error: invalid value 'csv' for --format: json or table\n"),
        "{out:?}"
    );
    let out = tinkex(&["auth", "status", "-f", "json"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("'tinkex auth status' has no JSON output"),
        "{out:?}"
    );
}

#[test]
fn the_no_key_hint_says_how_to_give_tinkex_a_key() {
    let out = tinkex(&["model", "list"]).run();
    assert_eq!(out.code, 3, "{out:?}");
    let hint = out.stderr.lines().nth(1).unwrap_or_default();
    for part in [
        "give tinkex a key",
        "TINKER_API_KEY",
        "'tinkex auth status'",
    ] {
        assert!(hint.contains(part), "{part}: {out:?}");
    }
}

/// A result with logprobs for "Hello" (388) and no top-k rows: the server ignored them.
const NO_TOPK: &str =
    r#"{"sequences":[{"tokens":[388],"logprobs":[-0.5],"stop_reason":"length"}],"type":"sample"}"#;
/// The same with two alternatives.
const TOPK: &str = r#"{"sequences":[{"tokens":[388],"logprobs":[-0.5],"topk_logprobs":[[[388,-0.5],[294,-2.0]]],"stop_reason":"length"}],"type":"sample"}"#;

fn sample(result: &str, extra: &[&str]) -> Outcome {
    let api = MockTinker::answering(result);
    let tokenizer = small_tokenizer();
    let base = [
        "--base-model",
        "m",
        "--tokenizer",
        &tokenizer,
        "--prompt",
        "Hi",
    ];
    api.tinkex(&[&base[..], extra].concat()).run()
}

#[test]
fn topk_logprobs_alone_shows_them_and_a_server_without_them_is_named() {
    let out = sample(TOPK, &["--topk-logprobs", "2", "-q"]);
    let want = "Hello\n--- logprobs (token id, logprob, text) ---\n\
                388\t-0.5000\t\"Hello\"\n  alt 388\t-0.5000\t\"Hello\"\n  alt 294\t-2.0000\t\"He\"\n";
    assert_eq!(out.parts(), (0, want, ""));
    let out = sample(NO_TOPK, &["--topk-logprobs", "2", "--prompt-logprobs"]);
    assert_eq!(out.code, 0, "{out:?}");
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("returned no"))
        .collect();
    assert_eq!(warnings.len(), 1, "{out:?}");
    assert!(
        warnings[0].contains("top-k logprobs (--topk-logprobs)"),
        "{out:?}"
    );
    assert!(
        warnings[0].contains("prompt logprobs (--prompt-logprobs)"),
        "{out:?}"
    );
    // Not asked, not warned.
    let out = sample(NO_TOPK, &[]);
    assert!(!out.stderr.contains("returned no"), "{out:?}");
}

#[test]
fn every_command_has_grouped_help_and_help_works_as_a_word() {
    let long = tinkex(&["run", "--help"]).run();
    let word = tinkex(&["help", "run"]).run();
    assert_eq!(word.parts(), long.parts());
    assert_eq!(
        tinkex(&["help"]).run().parts(),
        tinkex(&["-h"]).run().parts()
    );
    assert!(long.stdout.starts_with("Usage: tinkex run [OPTIONS]\n"));
    let score = tinkex(&["score", "-h"]).run();
    assert_eq!((score.code, score.stderr.as_str()), (0, ""));
    for shown in [
        "Usage: tinkex score [OPTIONS]\n",
        "\nModel:\n  --base-model <NAME>",
        "--context <TEXT>",
        "\nHelp:\n  -h, --help",
        "the perplexity",
        "'*' (the best choice)",
    ] {
        assert!(score.stdout.contains(shown), "{shown}: {}", score.stdout);
    }
    let listing = tinkex(&["help", "checkpoint", "list"]).run();
    assert_eq!(listing.code, 0);
    assert!(
        listing.stdout.contains("--run-id <RUN_ID>"),
        "{}",
        listing.stdout
    );
    assert!(listing.stdout.contains("--limit <N>"), "{}", listing.stdout);
}

#[test]
fn errors_point_to_their_own_commands_help_and_numbers_say_the_range() {
    let out = tinkex(&["prefetch"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .ends_with("hint: run 'tinkex prefetch --help' for its flags and an example\n"),
        "{out:?}"
    );
    let out = tinkex(&["merge", "a.jsonl"]).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("'tinkex merge --help'"), "{out:?}");
    let out = tinkex(&["training-run", "list", "--limit", "-1"]).run();
    let want = "tinkex: error: invalid value '-1' for --limit: must be a whole number ≥ 0\n\
                tinkex: hint: run 'tinkex training-run list --help' for its flags and an example\n";
    assert_eq!(out.parts(), (2, "", want));
}

#[test]
fn the_cache_lists_one_entry_a_line_and_as_json() {
    let cache = tempfile::tempdir().unwrap();
    let xdg = cache.path().display().to_string();
    let source = tempfile::tempdir().unwrap();
    let copy = source.path().join("tokenizer.json");
    fs::copy(small_tokenizer(), &copy).unwrap();
    let copy = copy.display().to_string();
    let args = [
        "run",
        "--base-model",
        "m",
        "--tokenizer",
        &copy,
        "--prompt",
        "Hi",
        "--print-prompt",
    ];
    let out = tinkex(&args).env("XDG_CACHE_HOME", &xdg).run();
    assert_eq!(out.code, 0, "{out:?}");
    let listed = tinkex(&["cache"]).env("XDG_CACHE_HOME", &xdg).run();
    assert_eq!(listed.code, 0, "{listed:?}");
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{listed:?}");
    assert!(lines[1].ends_with(&copy), "{listed:?}");
    assert!(
        lines[2].starts_with("total ") && lines[2].ends_with(" in 1 entry"),
        "{listed:?}"
    );
    let json = tinkex(&["cache", "--json"])
        .env("XDG_CACHE_HOME", &xdg)
        .run();
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["entries"][0]["sources"], serde_json::json!([copy]));
    assert!(doc["total_bytes"].as_u64().unwrap() > 0);
    // The temporary folder is gone: its path is not listed.
    drop(source);
    let listed = tinkex(&["cache"]).env("XDG_CACHE_HOME", &xdg).run();
    assert!(!listed.stdout.contains(&copy), "{listed:?}");
    assert!(
        listed.stdout.contains("(its sources no longer exist)"),
        "{listed:?}"
    );
}

#[test]
fn checkpoint_list_on_a_server_without_the_global_listing_hints_run_id() {
    let api = CatalogApi::new()
        .fail("/api/v1/checkpoints", 404, r#"{"detail":"Not Found"}"#, 1)
        .serve(answers());
    let out = read(&api, &["checkpoint", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    let hint = out.stderr.lines().nth(1).unwrap_or_default();
    assert!(hint.contains("--run-id RUN_ID"), "{out:?}");
    assert!(
        out.stderr.contains("cannot list all checkpoints"),
        "{out:?}"
    );
}

#[test]
fn a_sample_still_writes_its_output_file() {
    let api = MockTinker::answering(RESULT);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new/out.txt");
    let target_arg = target.display().to_string();
    let out = api
        .tinkex(&[
            "--base-model",
            "m",
            "--tokens-only",
            "-q",
            "--output",
            &target_arg,
        ])
        .stdin(b"[1, 2]")
        .run();
    assert_eq!(out.parts(), (0, "", ""));
    assert_eq!(fs::read_to_string(&target).unwrap(), "7\n");
}
