//! `tinkex score` end to end: the built binary against the demo server (exact plain and JSON
//! output, checked against the demo model) and against mockito (the exact request body, a
//! server that ignores `prompt_logprobs_last_n`), and its input errors.

use std::path::Path;
use std::time::Duration;

use mockito::Matcher;
use serde_json::{json, Value};

use crate::demo::model::{self, SampleSpec};
use crate::demo::{DemoConfig, DemoServer};
use crate::support::e2e::Scratch;
use crate::support::{small_tokenizer, tinkex, MockTinker, Outcome, KEY};

/// The usage hint of `tinkex score`.
const HINT: &str = "tinkex: hint: run 'tinkex score --help' for the flags and examples\n";

/// `score` against `url` with the small tokenizer, quiet, then `extra`.
pub fn score_args(url: &str, extra: &[&str]) -> Vec<String> {
    let tokenizer = small_tokenizer();
    let base = [
        "score",
        "--base-url",
        url,
        "--api-key",
        "tml-demo",
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        &tokenizer,
        "-q",
    ];
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// Runs `tinkex score … extra` against a fresh demo server; it must succeed quietly.
fn demo_score(extra: &[&str]) -> Outcome {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let run = scratch.run(&score_args(&server.url(), extra), Duration::from_secs(60));
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    run
}

/// What the demo model gives the last `n` tokens of `prompt`.
fn demo_logprobs(prompt: &[u32], n: usize) -> Vec<f64> {
    let spec = SampleSpec {
        prompt: prompt.to_vec(),
        ..SampleSpec::default()
    };
    (prompt.len() - n..prompt.len())
        .map(|pos| f64::from(model::prompt_logprob(&spec, pos)))
        .collect()
}

fn small_ids(text: &str) -> Vec<u32> {
    let tok = model::load_tokenizer(Path::new(&small_tokenizer())).unwrap();
    tok.encode(text, false).unwrap().get_ids().to_vec()
}

#[test]
fn one_continuation_is_one_plain_line() {
    let run = demo_score(&[
        "--context",
        "The quick brown fox",
        "--continuation",
        " jumps",
    ]);
    assert_eq!(run.stdout, "-1.3125\t1\t-1.3125\t3.7155\t\" jumps\"\n");
    let context = small_ids("The quick brown fox");
    let want = demo_logprobs(&[&context[..], &[398]].concat(), 1);
    assert_eq!(want, vec![-1.3125]);
}

#[test]
fn choices_mark_the_best_with_per_token_lines() {
    let run = demo_score(&[
        "--context",
        "The quick brown fox",
        "--choice",
        " jumps",
        "--choice",
        " is lazy",
        "--per-token",
    ]);
    let expected = "*\t0.6637\t-1.3125\t1\t-1.3125\t3.7155\t\" jumps\"\n\
        --- logprobs (token id, logprob, text) ---\n\
        398\t-1.3125\t\" jumps\"\n\
        -\t0.3363\t-1.9922\t3\t-0.6641\t1.9427\t\" is lazy\"\n\
        --- logprobs (token id, logprob, text) ---\n\
        288\t-0.2266\t\" is\"\n367\t-0.1406\t\" laz\"\n91\t-1.6250\t\"y\"\n";
    assert_eq!(run.stdout, expected);
}

#[test]
fn json_has_the_documented_schema_and_the_demo_models_numbers() {
    let run = demo_score(&[
        "--context",
        "The quick brown fox",
        "--choice",
        " jumps",
        "--choice",
        " is lazy",
        "--json",
    ]);
    let context = small_ids("The quick brown fox");
    let lazy = small_ids(" is lazy");
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["model", "context_tokens", "results", "best"]);
    assert_eq!(doc["context_tokens"], context.len());
    assert_eq!(doc["best"], 0);
    let second = &doc["results"][1];
    assert_eq!(second["continuation"], " is lazy");
    assert_eq!(second["tokens"], json!(lazy));
    let want = demo_logprobs(&[&context[..], &lazy[..]].concat(), lazy.len());
    assert_eq!(second["logprobs"], json!(want));
    assert_eq!(second["total"], json!(want.iter().sum::<f64>()));
    let expected_first = "{\n      \"continuation\": \" jumps\",\n      \"tokens\": [\n        398\n      ],\n      \"logprobs\": [\n        -1.3125\n      ],\n      \"total\": -1.3125,\n      \"mean\": -1.3125,\n      \"perplexity\": 3.715450737941104,\n      \"probability\": 0.6636689470737326\n    }";
    assert!(run.stdout.contains(expected_first), "{}", run.stdout);
}

#[test]
fn a_whole_text_scores_every_token_after_the_first() {
    let scratch = Scratch::new();
    let file = scratch.file("text.txt", "The quick brown fox\n");
    let run = demo_score(&["--prompt-file", &file, "--json"]);
    let ids = small_ids("The quick brown fox");
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["context_tokens"], 1);
    assert_eq!(doc["results"][0]["tokens"], json!(ids[1..]));
    assert_eq!(
        doc["results"][0]["logprobs"],
        json!(demo_logprobs(&ids, ids.len() - 1))
    );
    assert_eq!(doc["results"][0]["continuation"], " quick brown fox");
}

#[test]
fn token_files_score_like_text() {
    let scratch = Scratch::new();
    let context = small_ids("The quick brown fox");
    let ctx = scratch.file("ctx.json", &json!(context).to_string());
    let cont = scratch.file("cont.json", r#"{"tokens": [398]}"#);
    let run = demo_score(&["--context-tokens", &ctx, "--continuation-tokens", &cont]);
    assert_eq!(run.stdout, "-1.3125\t1\t-1.3125\t3.7155\t\" jumps\"\n");
}

/// The scoring request SDK 0.38's `compute_logprobs(prompt, prompt_logprobs_last_n=1)` sends.
const BODY: &str = r#"{"num_samples":1,"prompt":{"chunks":[{"tokens":[388,396,359],"type":"encoded_text"}]},"sampling_params":{"max_tokens":1,"temperature":1.0,"top_k":-1,"top_p":1.0},"sampling_session_id":"samp-1","seq_id":0,"prompt_logprobs":true,"topk_prompt_logprobs":0,"prompt_logprobs_last_n":1,"type":"sample"}"#;

/// Scores " fox" after "Hello brown" against a server answering `prompt_logprobs`; the body
/// must be [`BODY`], sent once.
fn mocked(prompt_logprobs: Value) -> Outcome {
    let mut api = MockTinker::new();
    let asample = api.asample(Matcher::Exact(BODY.into()));
    let result = json!({"sequences": [{"tokens": [5], "logprobs": [-1.0], "stop_reason": "length"}],
        "prompt_logprobs": prompt_logprobs, "type": "sample"});
    api.result(&result.to_string());
    let tokenizer = small_tokenizer();
    let args = [
        "score",
        "--base-url",
        &api.url(),
        "--api-key",
        KEY,
        "--base-model",
        "m",
        "--tokenizer",
        &tokenizer,
        "-q",
        "--context",
        "Hello brown",
        "--continuation",
        " fox",
    ];
    let out = tinkex(&args).run();
    asample.assert();
    out
}

#[test]
fn one_request_with_the_sdks_fields_whether_or_not_the_server_honours_last_n() {
    let expected = "-0.7500\t1\t-0.7500\t2.1170\t\" fox\"\n";
    let honoured = mocked(json!([null, null, -0.75]));
    assert_eq!(honoured.parts(), (0, expected, ""));
    let ignored = mocked(json!([null, -2.5, -0.75]));
    assert_eq!(ignored.parts(), (0, expected, ""));
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let scratch = Scratch::new();
    let text = scratch.file("ctx.txt", "hello");
    // Port 9 (discard) is closed: a request would fail as a network error, not exit 2.
    let url = "http://127.0.0.1:9";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--context", "x", "--continuation", ""], "--continuation is empty".into()),
        (vec!["--context", "", "--continuation", "x"], "--context is empty".into()),
        (vec!["--context", "x", "--choice", "a", "--choice", ""], "--choice 2 is empty".into()),
        (vec!["--continuation", "x"], "nothing to score: pass --context TEXT with --continuation TEXT or --choice TEXT…, --prompt-file FILE, or --input FILE for a batch".into()),
        (vec!["--context", "x"], "no continuation: pass --continuation TEXT, --choice TEXT (repeatable) or --continuation-tokens FILE".into()),
        (vec!["--context", "x", "--continuation", "y", "--choice", "z"], "give either --continuation or --choice, not both".into()),
        (vec!["--input", "in.jsonl", "--per-token"], "--input takes everything from its lines: drop --per-token".into()),
        (vec!["--prompt-file", "t.txt", "--chat"], "--prompt-file scores a text as it is: chat mode does not apply".into()),
    ];
    for (extra, message) in cases {
        let run = scratch.run(&score_args(url, &extra), Duration::from_secs(30));
        let stderr = format!("tinkex: error: {message}\n{HINT}");
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (2, "", stderr.as_str()),
            "{extra:?}"
        );
    }
    let args = score_args(url, &["--context-tokens", &text, "--continuation", "y"]);
    let run = scratch.run(&args, Duration::from_secs(30));
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.error_lines(),
        [format!("tinkex: error: --context-tokens {text}: not a JSON array of token ids (whole numbers ≥ 0) or {{\"tokens\": [...]}}")]
    );
    let ids = scratch.file("big.json", "[5, 99999]");
    let args = score_args(url, &["--context", "x", "--continuation-tokens", &ids]);
    let run = scratch.run(&args, Duration::from_secs(30));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("token 99999 at position 1 is outside the vocabulary"),
        "{}",
        run.stderr
    );
}

#[test]
fn saved_weights_alone_get_the_tokenizer_of_the_servers_base_model() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let args: Vec<String> = [
        "score",
        "--base-url",
        &server.url(),
        "--api-key",
        "tml-demo",
        "--model-path",
        "tinker://run-1/sampler_weights/final",
        "--context",
        "The quick brown fox",
        "--continuation",
        " jumps",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // The scratch hub cache holds the small tokenizer under Qwen/Qwen3-8B, the demo's base model.
    let run = Scratch::new().run(&args, Duration::from_secs(60));
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "-1.3125\t1\t-1.3125\t3.7155\t\" jumps\"\n", "")
    );
    let paths: Vec<String> = server.request_log().into_iter().map(|r| r.path).collect();
    assert!(
        paths.iter().any(|p| p.starts_with("/api/v1/samplers/")),
        "{paths:?}"
    );
}
