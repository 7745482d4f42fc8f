//! Chat mode end to end: the built binary, exact stdout/stderr/exit code; `--print-prompt`
//! without a key or a request; default stops sent to a mock server; every chat flag error.

use std::path::Path;

use mockito::{Matcher, Server};
use serde_json::{json, Value};

use crate::support::{conversation, fixture, qwen3_chat_hi, qwen3_tokenizer, tinkex, MockTinker};

fn golden(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(path)).unwrap()).unwrap()
}

/// Writes conversation `name` of fixtures/chat/conversations.json to `dir/name.json`.
fn conversation_file(dir: &Path, name: &str) -> String {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec(&conversation(name)).unwrap()).unwrap();
    path.display().to_string()
}

fn golden_case<'a>(cases: &'a Value, conversation: &str, variant: &str) -> &'a Value {
    cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversation"] == conversation && c["variant"] == variant)
        .unwrap()
}

#[test]
fn print_prompt_shows_the_qwen3_chat_prompt() {
    let tok = qwen3_tokenizer();
    let args = [
        "run",
        "--base-model",
        "Qwen/Qwen3-8B",
        "--chat",
        "--prompt",
        "hi",
        "--print-prompt",
        "--tokenizer",
        &tok,
    ];
    let out = tinkex(&args).run();
    assert_eq!(out.stderr, "");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (
            0,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n9 tokens\n"
        )
    );
}

#[test]
fn print_prompt_json_matches_the_transformers_golden() {
    let dir = tempfile::tempdir().unwrap();
    let tok = qwen3_tokenizer();
    let qwen = golden("chat/goldens/qwen3.json");
    for (conv, variant, extra) in [
        ("think_history", "default", vec![]),
        ("multi_turn_system", "no_think", vec!["--no-think"]),
        ("tool_call", "think", vec!["--think"]),
    ] {
        let messages = conversation_file(dir.path(), conv);
        let mut args = vec![
            "run",
            "--base-model",
            "Qwen/Qwen3-8B",
            "--messages",
            &messages,
            "--print-prompt",
            "--json",
            "--tokenizer",
            &tok,
        ];
        args.extend(extra);
        let out = tinkex(&args).run();
        assert_eq!(out.code, 0, "{out:?}");
        let want = golden_case(&qwen["cases"], conv, variant);
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["text"], want["text"], "{conv}");
        assert_eq!(doc["tokens"], want["tokens"], "{conv}");
        assert_eq!(doc["chat"], json!({"renderer": "hf", "stop": [151645]}));
        // The think_history conversation holds <think> in history: one warning, on stderr.
        let warned = conv == "think_history";
        assert_eq!(
            out.stderr.contains("the tinker-cookbook would keep them"),
            warned,
            "{}",
            out.stderr
        );
    }
}

#[test]
fn base_models_use_role_colon_with_its_stop_string() {
    let dir = tempfile::tempdir().unwrap();
    let tok = qwen3_tokenizer();
    let profiles = golden("chat/goldens/profiles.json");
    let entry = profiles["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["profile"] == "role_colon" && p["tokenizer"] == "qwen3")
        .unwrap();
    let messages = conversation_file(dir.path(), "multi_turn_system");
    let args = [
        "run",
        "--base-model",
        "Qwen/Qwen3-8B-Base",
        "--messages",
        &messages,
        "--print-prompt",
        "--json",
        "--tokenizer",
        &tok,
    ];
    let out = tinkex(&args).run();
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let want = entry["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversation"] == "multi_turn_system")
        .unwrap();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["text"], want["text"]);
    assert_eq!(doc["tokens"], want["tokens"]);
    assert_eq!(
        doc["chat"],
        json!({"renderer": "role_colon", "stop": ["\n\nUser:"]})
    );
}

#[test]
fn raw_prompts_can_be_counted_too() {
    let tok = qwen3_tokenizer();
    let args = [
        "run",
        "--base-model",
        "m",
        "--prompt",
        "Hello world",
        "--print-prompt",
        "--tokenizer",
        &tok,
    ];
    let out = tinkex(&args).run();
    assert_eq!(out.parts(), (0, "Hello world\n2 tokens\n", ""));
}

#[test]
fn print_prompt_needs_no_key_and_sends_no_request() {
    let mut server = Server::new();
    let any = server.mock("POST", Matcher::Any).expect(0).create();
    let url = server.url();
    let tok = qwen3_tokenizer();
    let args = [
        "run",
        "--base-url",
        &url,
        "--base-model",
        "Qwen/Qwen3-8B",
        "--system",
        "Be brief.",
        "--prompt",
        "hi",
        "--print-prompt",
        "--tokenizer",
        &tok,
    ];
    let out = tinkex(&args).run();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out
        .stdout
        .starts_with("<|im_start|>system\nBe brief.<|im_end|>\n"));
    any.assert();
}

#[test]
fn chat_run_sends_the_rendered_prompt_and_default_stop() {
    let mut api = MockTinker::new();
    // <|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n in Qwen3's vocabulary.
    let prompt = [151644, 872, 198, 6023, 151645, 198, 151644, 77091, 198];
    let asample = api.asample(Matcher::PartialJson(json!({
        "prompt": {"chunks": [{"tokens": prompt}]},
        "sampling_params": {"stop": [151645]},
    })));
    // "Hello" then <|im_end|>: the stop token is left out of plain output.
    api.result(&json!({"sequences": [{"tokens": [9707, 151645], "logprobs": [-0.1, -0.2], "stop_reason": "stop"}], "type": "sample"}).to_string());
    let tok = qwen3_tokenizer();
    let out = api.tinkex(&qwen3_chat_hi(&tok, &["-q"])).run();
    assert_eq!(out.parts(), (0, "Hello\n", ""), "{out:?}");
    asample.assert();
}

#[test]
fn user_stops_replace_the_default_ones() {
    let mut api = MockTinker::new();
    let asample = api.asample(Matcher::PartialJson(
        json!({"sampling_params": {"stop": ["END"]}}),
    ));
    api.result(&json!({"sequences": [{"tokens": [9707], "logprobs": [-0.1], "stop_reason": "length"}], "type": "sample"}).to_string());
    let tok = qwen3_tokenizer();
    let out = api
        .tinkex(&qwen3_chat_hi(&tok, &["--stop", "END", "-q"]))
        .run();
    assert_eq!((out.code, out.stdout.as_str()), (0, "Hello\n"), "{out:?}");
    asample.assert();
}

#[test]
fn model_path_alone_asks_the_server_for_the_base_model_to_pick_the_format() {
    let mut api = MockTinker::new();
    let lookup = api
        .server
        .mock("GET", "/api/v1/samplers/samp-1")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"base_model": "Qwen/Qwen3-8B-Base"}"#)
        .create();
    // role_colon, as the cookbook formats base models: "User: hi\n\nAssistant:".
    let asample = api.asample(Matcher::PartialJson(json!({
        "prompt": {"chunks": [{"tokens": [1474, 25, 15588, 271, 71703, 25]}]},
        "sampling_params": {"stop": ["\n\nUser:"]},
    })));
    api.result(&json!({"sequences": [{"tokens": [9707], "logprobs": [-0.1], "stop_reason": "stop"}], "type": "sample"}).to_string());
    let tok = qwen3_tokenizer();
    let out = api
        .tinkex(&[
            "--model-path",
            "tinker://run/sampler_weights/final",
            "--chat",
            "--prompt",
            "hi",
            "--tokenizer",
            &tok,
            "-q",
        ])
        .run();
    assert_eq!(out.parts(), (0, "Hello\n", ""), "{out:?}");
    lookup.assert();
    asample.assert();
}
