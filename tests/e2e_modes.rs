//! End to end, happy paths: the built `tinkex` binary against the demo server, once per output
//! mode, each compared with what the demo model deterministically answers.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokenizers::Tokenizer;

use crate::demo::model::{self, demo_text, SampleSpec};
use crate::demo::proto::{SampleResult, StopReason};
use crate::demo::{DemoConfig, DemoServer, DEFAULT_TOKENIZER};
use crate::support::e2e::{run_args, Scratch};
use crate::support::Outcome;

/// "Hello" is one Qwen3 token.
const HELLO: u32 = 9707;

fn tokenizer() -> std::sync::Arc<Tokenizer> {
    model::load_tokenizer(Path::new(DEFAULT_TOKENIZER)).unwrap()
}

/// What the demo model answers for `spec`.
fn answer(spec: SampleSpec) -> SampleResult {
    model::sample(&tokenizer(), &spec).unwrap()
}

fn one_sample(prompt: Vec<u32>) -> SampleSpec {
    SampleSpec {
        prompt,
        num_samples: 1,
        ..SampleSpec::default()
    }
}

/// Runs `tinkex run` with a text prompt and the fixture tokenizer, plus `extra`.
fn run_text(prompt: &str, extra: &[&str], scratch: &Scratch) -> Outcome {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let mut all = vec![
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        DEFAULT_TOKENIZER,
        "--prompt",
        prompt,
        "--timeout",
        "30",
    ];
    all.extend_from_slice(extra);
    let run = scratch.run(&run_args(&server.url(), &all), Duration::from_secs(60));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.error_lines().is_empty(), "{}", run.stderr);
    run
}

fn decode_one(id: u32) -> String {
    tokenizer().decode(&[id], false).unwrap()
}

#[test]
fn plain_output_is_the_decoded_text_without_the_end_token() {
    let run = run_text("Hello", &[], &Scratch::new());
    assert_eq!(run.stdout, format!("{}\n", demo_text(1, 0, 0, 1)));
}

#[test]
fn several_samples_each_get_a_header_and_their_own_text() {
    let run = run_text(
        "Hello",
        &["--num-samples", "3", "--seed", "5"],
        &Scratch::new(),
    );
    let expected = answer(SampleSpec {
        num_samples: 3,
        seed: Some(5),
        ..one_sample(vec![HELLO])
    });
    let mut want = String::new();
    for (i, seq) in expected.sequences.iter().enumerate() {
        let n = seq.tokens.len();
        want.push_str(&format!(
            "--- sample {}/3 (stop: stop, tokens: {n}) ---\n",
            i + 1
        ));
        want.push_str(&format!("{}\n", demo_text(1, 5, i as u32, 3)));
    }
    assert_eq!(run.stdout, want);
}

#[test]
fn json_output_keeps_every_token_and_logprob() {
    let run = run_text("Hello", &["--json", "--max-tokens", "64"], &Scratch::new());
    let doc: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let seq = &answer(SampleSpec {
        max_tokens: Some(64),
        ..one_sample(vec![HELLO])
    })
    .sequences[0];
    assert_eq!(*seq.tokens.last().unwrap(), model::IM_END);
    let text = format!("{}<|im_end|>", demo_text(1, 0, 0, 1));
    assert_eq!(doc["model"], "Qwen/Qwen3-8B");
    assert_eq!(doc["prompt_tokens"], 1);
    assert_eq!(
        doc["sequences"],
        json!([{"text": text, "tokens": seq.tokens, "logprobs": seq.logprobs, "stop_reason": "stop"}])
    );
    assert!(doc.get("prompt_logprobs").is_none(), "{doc}");
}

#[test]
fn output_file_gets_the_bytes_and_stdout_stays_empty() {
    let scratch = Scratch::new();
    let out = scratch.join("out/answer.txt");
    let out_arg = out.to_string_lossy().into_owned();
    let run = run_text("Hello", &["--output", &out_arg], &scratch);
    assert_eq!(run.stdout, "");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, format!("{}\n", demo_text(1, 0, 0, 1)));
    let dir: Vec<_> = std::fs::read_dir(scratch.join("out")).unwrap().collect();
    assert_eq!(dir.len(), 1, "no temp file beside the output: {dir:?}");
}

#[test]
fn logprobs_follow_the_text_one_line_per_token() {
    let run = run_text(
        "Hello",
        &["--logprobs", "--max-tokens", "5"],
        &Scratch::new(),
    );
    let seq = &answer(SampleSpec {
        max_tokens: Some(5),
        ..one_sample(vec![HELLO])
    })
    .sequences[0];
    assert_eq!(seq.stop_reason, StopReason::Length);
    let text = tokenizer().decode(&seq.tokens, false).unwrap();
    let mut want = format!("{text}\n--- logprobs (token id, logprob, text) ---\n");
    for (id, lp) in seq.tokens.iter().zip(seq.logprobs.as_ref().unwrap()) {
        want.push_str(&format!("{id}\t{lp:.4}\t{}\n", json!(decode_one(*id))));
    }
    assert_eq!(run.stdout, want);
}

#[test]
fn tokens_only_prints_the_sampled_ids() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let scratch = Scratch::new();
    let prompt = scratch.file("prompt.json", "[9707, 11]");
    let extra = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--prompt-file",
        &prompt,
        "--max-tokens",
        "3",
        "--logprobs",
        "--timeout",
        "30",
    ];
    let run = scratch.run(&run_args(&server.url(), &extra), Duration::from_secs(60));
    assert_eq!(run.code, 0, "{run:?}");
    let seq = &answer(SampleSpec {
        max_tokens: Some(3),
        ..one_sample(vec![HELLO, 11])
    })
    .sequences[0];
    let cells: Vec<String> = seq
        .tokens
        .iter()
        .zip(seq.logprobs.as_ref().unwrap())
        .map(|(id, lp)| format!("{id}:{lp:.4}"))
        .collect();
    assert_eq!(run.stdout, format!("{}\n", cells.join(" ")));
}

#[test]
fn prompt_logprobs_and_top_k_come_back_aligned_to_the_prompt() {
    let tok = tokenizer();
    let prompt = "Hello world, how are you";
    let ids = tok.encode(prompt, false).unwrap().get_ids().to_vec();
    assert!(ids.len() > 3, "{ids:?}");
    let extra = [
        "--json",
        "--max-tokens",
        "2",
        "--prompt-logprobs",
        "--topk-prompt-logprobs",
        "3",
    ];
    let run = run_text(prompt, &extra, &Scratch::new());
    let doc: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let want = answer(SampleSpec {
        max_tokens: Some(2),
        prompt_logprobs: true,
        topk_prompt_logprobs: 3,
        ..one_sample(ids.clone())
    });
    assert_eq!(doc["prompt_tokens"], ids.len());
    assert_eq!(doc["prompt_logprobs"], json!(want.prompt_logprobs));
    assert_eq!(doc["prompt_logprobs"][0], Value::Null);
    let topk = want.topk_prompt_logprobs.unwrap();
    assert_eq!(doc["topk_prompt_logprobs"], json!(topk));
    assert_eq!(
        doc["topk_prompt_logprobs"][1][0][0], ids[1],
        "the prompt token leads its row"
    );
}

#[test]
fn a_batch_of_prompts_comes_back_in_input_order() {
    let server = DemoServer::start(DemoConfig {
        latency_ms: 30,
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let lines: Vec<String> = (1..=12)
        .map(|n| {
            format!(
                "{{\"id\":\"p{n}\",\"tokens\":{:?},\"seed\":{n}}}",
                vec![HELLO; n]
            )
        })
        .collect();
    let input = scratch.file("in.jsonl", &(lines.join("\n") + "\n"));
    let out = scratch.join("out.jsonl").to_string_lossy().into_owned();
    let extra = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--max-tokens",
        "4",
        "--input",
        &input,
        "--output",
        &out,
        "--parallel",
        "6",
    ];
    let run = scratch.run(&run_args(&server.url(), &extra), Duration::from_secs(60));
    assert_eq!(run.code, 0, "{run:?}");
    let written = std::fs::read_to_string(&out).unwrap();
    let docs: Vec<Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 12, "{written}");
    for (i, doc) in docs.iter().enumerate() {
        let n = i + 1;
        assert_eq!(doc["id"], format!("p{n}"), "{doc}");
        let seq = &answer(SampleSpec {
            max_tokens: Some(4),
            seed: Some(n as i64),
            ..one_sample(vec![HELLO; n])
        })
        .sequences[0];
        assert_eq!(doc["sequences"][0]["tokens"], json!(seq.tokens), "{doc}");
    }
}
