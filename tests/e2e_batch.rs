//! Batch mode end to end against the demo server: the worker count never changes the output.

use std::time::Duration;

use crate::demo::{DemoConfig, DemoServer, DEFAULT_TOKENIZER};
use crate::support::e2e::{run_args, Scratch};

/// Runs one batch of `input` with `--parallel parallel` and returns the output file's bytes.
fn batch_output(server: &DemoServer, scratch: &Scratch, input: &str, parallel: &str) -> String {
    let out = scratch
        .join(&format!("out-{parallel}.jsonl"))
        .to_string_lossy()
        .into_owned();
    let extra = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        DEFAULT_TOKENIZER,
        "--max-tokens",
        "6",
        "--input",
        input,
        "--output",
        &out,
        "--parallel",
        parallel,
    ];
    let run = scratch.run(&run_args(&server.url(), &extra), Duration::from_secs(120));
    assert_eq!(run.code, 0, "{run:?}");
    std::fs::read_to_string(&out).unwrap()
}

#[test]
fn parallel_1_and_16_write_identical_files_for_the_same_seeds() {
    // The demo server's latency is per requested sample and lines ask for 1–3, so with 16 workers
    // the answers arrive out of order and only the reorder window keeps the file identical.
    let server = DemoServer::start(DemoConfig {
        latency_ms: 15,
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let lines: Vec<String> = (1..=40)
        .map(|n| {
            let samples = 1 + (n * 7) % 3;
            format!("{{\"id\":\"q{n}\",\"prompt\":\"Question {n}: why?\",\"seed\":{n},\"num_samples\":{samples}}}")
        })
        .collect();
    let input = scratch.file("in.jsonl", &(lines.join("\n") + "\n"));
    let serial = batch_output(&server, &scratch, &input, "1");
    let parallel = batch_output(&server, &scratch, &input, "16");
    assert_eq!(serial.lines().count(), 40);
    assert!(
        serial.contains("\"text\":"),
        "text prompts are decoded: {serial}"
    );
    assert_eq!(serial, parallel);
}
