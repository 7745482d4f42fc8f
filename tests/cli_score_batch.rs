//! `tinkex score --input`: lines in input order through the batch journal, choices, chat
//! lines, `--resume`, and bad input refused before any request.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli_score::score_args;
use crate::demo::{DemoConfig, DemoServer};
use crate::support::e2e::Scratch;
use crate::support::{json_lines, Outcome};

const LINES: &str = r#"{"id": "a", "context": "The quick brown fox", "continuation": " jumps"}

{"id": "b", "context": "The quick brown fox", "choices": [" jumps", " is lazy"]}
{"context": "Hello", "continuation": " world"}
{"id": 7, "context": "Hello", "continuation": " world"}
"#;

/// Runs `score --input` (`lines`) against `server` with `extra`.
fn batch_of(lines: &str, server: &DemoServer, scratch: &Scratch, extra: &[&str]) -> Outcome {
    let input = scratch.file("items.jsonl", lines);
    let mut all = vec!["--input", input.as_str()];
    all.extend_from_slice(extra);
    scratch.run(&score_args(&server.url(), &all), Duration::from_secs(60))
}

/// Runs `score --input` ([`LINES`]) against `server` with `extra`.
fn batch(server: &DemoServer, scratch: &Scratch, extra: &[&str]) -> Outcome {
    batch_of(LINES, server, scratch, extra)
}

/// How many scoring requests the server has seen.
fn asamples(server: &DemoServer) -> usize {
    let log = server.request_log();
    log.iter().filter(|r| r.path == "/api/v1/asample").count()
}

#[test]
fn lines_come_back_in_input_order_with_every_choice_scored() {
    let server = DemoServer::start(DemoConfig {
        latency_ms: 20,
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let run = batch(&server, &scratch, &["--parallel", "4"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let lines = json_lines(&run.stdout);
    let ids: Vec<&Value> = lines.iter().map(|l| &l["id"]).collect();
    assert_eq!(ids, [&json!("a"), &json!("b"), &json!(4), &json!(7)]);
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[1]["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        lines[0]["results"][0]["logprobs"], lines[1]["results"][0]["logprobs"],
        "a choice scores as the lone continuation does"
    );
    assert_eq!(lines[1]["best"], 0);
    assert_eq!(lines[2]["results"], lines[3]["results"]);
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "line",
            "context_tokens",
            "results",
            "best",
            "input_hash"
        ]
    );
    assert_eq!(asamples(&server), 5, "one request per continuation");
}

#[test]
fn resume_keeps_scored_lines_and_scores_the_rest() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let out = scratch.join("scores.jsonl");
    let out_arg = out.display().to_string();
    let first = batch(&server, &scratch, &["--output", &out_arg]);
    assert_eq!((first.code, first.stdout.as_str()), (0, ""), "{first:?}");
    let complete = std::fs::read_to_string(&out).unwrap();
    let kept: Vec<&str> = complete.lines().collect();
    assert_eq!(kept.len(), 4);
    // Keep "a", fail "b", lose line 4 and tear line 7 in half, as a crash would.
    let failed = r#"{"id":"b","line":3,"error":{"category":"server","message":"boom"}}"#;
    let torn = &kept[3][..20];
    std::fs::write(&out, format!("{}\n{failed}\n{torn}", kept[0])).unwrap();
    let before = asamples(&server);
    let again = batch(&server, &scratch, &["--output", &out_arg]);
    assert_eq!(
        again.code, 2,
        "an existing journal needs --resume: {again:?}"
    );
    assert!(again.stderr.contains("--resume"), "{}", again.stderr);
    let resumed = batch(
        &server,
        &scratch,
        &["--output", &out_arg, "--resume", "--parallel", "2"],
    );
    assert_eq!(
        (resumed.code, resumed.stderr.as_str()),
        (0, ""),
        "{resumed:?}"
    );
    assert_eq!(
        asamples(&server) - before,
        4,
        "b's two choices, line 4 and line 7"
    );
    let after = std::fs::read_to_string(&out).unwrap();
    let lines = json_lines(&after);
    assert_eq!(lines.len(), 4);
    assert_eq!(
        after.lines().next(),
        Some(kept[0]),
        "kept lines stay as they were"
    );
    // Not sorted: the retried line 3 goes back between lines 1 and 4, as in an unbroken run.
    assert_eq!(after, complete, "the resumed journal is the unbroken one");
    let input = scratch.join("items.jsonl").display().to_string();
    let merge = [
        "merge".to_string(),
        "--input".into(),
        input,
        out_arg.clone(),
    ];
    let merged = scratch.run(&merge, Duration::from_secs(30));
    assert_eq!(merged.code, 0, "{merged:?}");
    assert_eq!(merged.stdout, complete, "a resumed score journal merges");
}

#[test]
fn bad_lines_are_refused_before_any_request() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let input = scratch.file(
        "bad.jsonl",
        "{\"context\": \"a\", \"continuation\": \"b\"}\n{\"context\": \"a\"}\n{\"id\": 1, \"context\": \"a\", \"choices\": [\"x\", \"\"]}\n",
    );
    let run = scratch.run(
        &score_args(&server.url(), &["--input", &input]),
        Duration::from_secs(60),
    );
    assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{run:?}");
    let expected = format!(
        "tinkex: error: --input {input}: 2 bad lines; nothing was scored\n  line 2: no \"continuation\" or \"choices\"\n  line 3: choices: choice 2 is empty\ntinkex: hint: fix the lines above and run again\n"
    );
    assert_eq!(run.stderr, expected);
    assert!(server.request_log().is_empty(), "no request at all");
}

#[test]
fn chat_lines_render_the_context_as_run_does() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let lines = r#"{"messages": [{"role": "user", "content": "hi"}], "continuation": "Hello"}
{"context": "hi", "continuation": "Hello"}
"#;
    let extra = ["--chat", "--renderer", "role_colon"];
    let run = batch_of(lines, &server, &Scratch::new(), &extra);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let lines = json_lines(&run.stdout);
    assert_eq!(lines[0]["chat"], json!({"renderer": "role_colon"}));
    assert_eq!(lines[0]["context_tokens"], lines[1]["context_tokens"]);
    assert_eq!(lines[0]["results"], lines[1]["results"]);
}

#[test]
fn shards_score_their_own_lines_and_merge_into_the_unsharded_journal() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let whole = batch(&server, &scratch, &[]);
    assert_eq!(whole.code, 0, "{whole:?}");
    let mut journals = Vec::new();
    for k in 1..=2 {
        let spec = format!("{k}/2");
        let out = scratch
            .join(&format!("shard-{k}.jsonl"))
            .display()
            .to_string();
        let run = batch(&server, &scratch, &["--shard", &spec, "--output", &out]);
        assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
        let lines: Vec<u64> = json_lines(&std::fs::read_to_string(&out).unwrap())
            .iter()
            .map(|l| l["line"].as_u64().unwrap())
            .collect();
        // Line 2 is blank: it counts for the numbering but has no record.
        let want: &[u64] = if k == 1 { &[1, 3, 5] } else { &[4] };
        assert_eq!(lines, want, "shard {k}");
        journals.push(out);
    }
    let input = scratch.join("items.jsonl").display().to_string();
    let mut args: Vec<String> = vec!["merge".into(), "--input".into(), input];
    args.extend(journals);
    let merged = scratch.run(&args, Duration::from_secs(30));
    assert_eq!(merged.code, 0, "{merged:?}");
    assert_eq!(
        merged.stdout, whole.stdout,
        "the shards merge into the unsharded journal"
    );
}
