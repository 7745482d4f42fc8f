//! `tinkex run --topk-logprobs K`: the wire field only when asked, JSON rows, plain "alt" lines,
//! and the per-line override in batch mode.

use mockito::Matcher;
use serde_json::json;

use crate::support::{json_lines, small_tokenizer, usage_error, write_input, MockTinker};

/// "Hello" (388) then " brown" (396) with two alternatives each; the second row is none.
const RESULT: &str = r#"{"sequences":[{"tokens":[388,396],"logprobs":[-0.5,-1.25],"topk_logprobs":[[[388,-0.5],[294,-2.0]],null],"stop_reason":"length"}],"type":"sample"}"#;

fn run(api: &MockTinker, extra: &[&str]) -> crate::support::Outcome {
    let tokenizer = small_tokenizer();
    let base = [
        "--base-model",
        "m",
        "--tokenizer",
        &tokenizer,
        "--prompt",
        "Hello",
        "-q",
    ];
    api.tinkex(&[&base[..], extra].concat()).run()
}

#[test]
fn plain_logprobs_show_the_alternatives_under_each_token() {
    let mut api = MockTinker::new();
    let asample = api.asample(Matcher::PartialJson(json!({"topk_sample_logprobs": 2})));
    api.result(RESULT);
    let out = run(&api, &["--topk-logprobs", "2", "--logprobs"]);
    let expected = "Hello brown\n\
        --- logprobs (token id, logprob, text) ---\n\
        388\t-0.5000\t\"Hello\"\n  alt 388\t-0.5000\t\"Hello\"\n  alt 294\t-2.0000\t\"He\"\n\
        396\t-1.2500\t\" brown\"\n";
    assert_eq!(out.parts(), (0, expected, ""));
    asample.assert();
}

#[test]
fn json_has_a_row_per_sampled_token() {
    let api = MockTinker::answering(RESULT);
    let out = run(&api, &["--topk-logprobs", "2", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        doc["sequences"][0]["topk_logprobs"],
        json!([[[388, -0.5], [294, -2.0]], null])
    );
    let text = &out.stdout;
    assert!(
        text.find("\"logprobs\"") < text.find("\"topk_logprobs\"")
            && text.find("\"topk_logprobs\"") < text.find("\"stop_reason\""),
        "{text}"
    );
}

#[test]
fn without_the_flag_nothing_is_asked_or_shown() {
    let mut api = MockTinker::new();
    let body = Matcher::Regex(r#""topk_prompt_logprobs":0,"type":"sample"\}$"#.into());
    let asample = api.asample(body);
    api.result(r#"{"sequences":[{"tokens":[388],"logprobs":[-0.5],"stop_reason":"length"}],"type":"sample"}"#);
    let out = run(&api, &["--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("topk_logprobs"), "{}", out.stdout);
    asample.assert();
}

#[test]
fn zero_is_a_usage_error() {
    usage_error(
        &[
            "run",
            "--base-model",
            "m",
            "--prompt",
            "hi",
            "--topk-logprobs",
            "0",
        ],
        "invalid value '0' for --topk-logprobs: must be at least 1",
    );
}

#[test]
fn batch_lines_can_ask_for_alternatives_or_turn_them_off() {
    let mut api = MockTinker::new();
    let with = Matcher::AllOf(vec![
        Matcher::Regex("\"tokens\":\\[4\\]".into()),
        Matcher::PartialJson(json!({"topk_sample_logprobs": 5})),
    ]);
    api.route(with, "req-a", RESULT, Some(1));
    let without =
        Matcher::Regex(r#""tokens":\[5\].*"topk_prompt_logprobs":0,"type":"sample"\}$"#.into());
    api.route(without, "req-b", RESULT, Some(1));
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &[
            r#"{"id": "a", "tokens": [4], "topk_logprobs": 5}"#,
            r#"{"id": "b", "tokens": [5], "topk_logprobs": 0}"#,
        ],
    );
    let out = api
        .tinkex(&[
            "--base-model",
            "m",
            "--tokens-only",
            "--topk-logprobs",
            "2",
            "--input",
            &input,
            "-q",
        ])
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(
        lines[0]["sequences"][0]["topk_logprobs"][0],
        json!([[388, -0.5], [294, -2.0]])
    );
    for mock in &api.mocks[5..] {
        mock.assert();
    }
}

#[test]
fn the_demo_server_answers_alternatives_through_the_binary() {
    use crate::demo::{DemoConfig, DemoServer};
    use crate::support::e2e::{run_args, Scratch};
    let server = DemoServer::start(DemoConfig {
        // The tokenizer the run decodes with: the demo must sample ids inside its vocabulary.
        tokenizer: crate::support::fixture("small/tokenizer.json"),
        ..DemoConfig::default()
    })
    .unwrap();
    let tokenizer = small_tokenizer();
    let extra = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        &tokenizer,
        "--prompt",
        "Hello",
        "--max-tokens",
        "4",
        "--topk-logprobs",
        "3",
        "--json",
        "-q",
    ];
    let args = run_args(&server.url(), &extra);
    let run = Scratch::new().run(&args, std::time::Duration::from_secs(60));
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let seq = &doc["sequences"][0];
    let rows = seq["topk_logprobs"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.as_array().unwrap().len(), 3);
        assert_eq!(row[0], json!([seq["tokens"][i], seq["logprobs"][i]]));
    }
}
