//! Chat mode in batch mode and in `--json`: `"messages"` lines, `--chat`/`--system` applied to
//! every line, default stops per line, validation naming the line and the message, and the
//! `"chat"` entry of JSON output; exact outputs against a mock API.

use mockito::Matcher;
use serde_json::{json, Value};

use crate::support::{
    fixture, json_lines, qwen3_chat_hi, qwen3_tokenizer, tinkex_at, write_input, MockTinker,
};

/// `<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n` in Qwen3's vocabulary.
const USER_HI: [u32; 9] = [151644, 872, 198, 6023, 151645, 198, 151644, 77091, 198];
/// The same after `<|im_start|>system\nBe brief.<|im_end|>\n`.
const SYSTEM_USER_HI: [u32; 17] = [
    151644, 8948, 198, 3430, 9814, 13, 151645, 198, 151644, 872, 198, 6023, 151645, 198, 151644,
    77091, 198,
];
/// user "hi", assistant "Hello", user "more", then the assistant header.
const THREE_TURNS: [u32; 21] = [
    151644, 872, 198, 6023, 151645, 198, 151644, 77091, 198, 9707, 151645, 198, 151644, 872, 198,
    6384, 151645, 198, 151644, 77091, 198,
];
const IM_END: u32 = 151645;

/// Answers the prompt `tokens` sent with `stop` (none: any) as request `req-{n}`, whose result
/// is "Hello" (9707) then `<|im_end|>`.
fn answer(api: &mut MockTinker, n: u32, tokens: &[u32], stop: Option<Value>) {
    let mut body = json!({"prompt": {"chunks": [{"tokens": tokens}]}});
    if let Some(stop) = stop {
        body["sampling_params"] = json!({ "stop": stop });
    }
    let result = json!({"sequences": [{"tokens": [9707, IM_END], "logprobs": [-0.5, -0.25], "stop_reason": "stop"}]});
    api.route(
        Matcher::PartialJson(body),
        &format!("req-{n}"),
        &result.to_string(),
        Some(1),
    );
}

fn sequence() -> Value {
    json!([{"text": "Hello<|im_end|>", "tokens": [9707, IM_END], "logprobs": [-0.5, -0.25], "stop_reason": "stop"}])
}

#[test]
fn messages_lines_are_rendered_with_the_default_stops_unless_the_line_sets_its_own() {
    let mut api = MockTinker::new();
    answer(&mut api, 1, &THREE_TURNS, Some(json!([IM_END])));
    answer(&mut api, 2, &USER_HI, Some(json!(["END"])));
    answer(&mut api, 3, &[9707], None);
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &[
            r#"{"id": "a", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "more"}]}"#,
            r#"{"id": "b", "messages": [{"role": "user", "content": "hi"}], "stop": "END"}"#,
            r#"{"id": "c", "tokens": [9707]}"#,
        ],
    );
    let tok = qwen3_tokenizer();
    let out = api
        .tinkex(&[
            "--base-model",
            "Qwen/Qwen3-8B",
            "--tokenizer",
            &tok,
            "--input",
            &input,
            "--parallel",
            "2",
            "-q",
        ])
        .run();
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let lines = crate::support::without_input_hash(json_lines(&out.stdout));
    let expected = [
        json!({"id": "a", "line": 1, "prompt_tokens": 21, "chat": {"renderer": "hf", "stop": [IM_END]}, "sequences": sequence()}),
        json!({"id": "b", "line": 2, "prompt_tokens": 9, "chat": {"renderer": "hf", "stop": ["END"]}, "sequences": sequence()}),
        json!({"id": "c", "line": 3, "prompt_tokens": 1, "sequences": sequence()}),
    ];
    assert_eq!(lines, expected);
    let keys: Vec<&String> = lines[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "line", "prompt_tokens", "chat", "sequences"]);
    for mock in &api.mocks[5..] {
        mock.assert();
    }
}

#[test]
fn chat_and_system_flags_apply_to_every_line() {
    let mut api = MockTinker::new();
    answer(&mut api, 1, &SYSTEM_USER_HI, Some(json!([IM_END])));
    answer(&mut api, 2, &SYSTEM_USER_HI, Some(json!([7])));
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &[
            r#"{"id": "p", "prompt": "hi"}"#,
            r#"{"id": "m", "messages": [{"role": "user", "content": "hi"}], "stop": [7]}"#,
        ],
    );
    let tok = qwen3_tokenizer();
    let out = api
        .tinkex(&[
            "--base-model",
            "Qwen/Qwen3-8B",
            "--tokenizer",
            &tok,
            "--system",
            "Be brief.",
            "--input",
            &input,
            "-q",
        ])
        .run();
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let chats: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["chat"].clone())
        .collect();
    assert_eq!(
        chats,
        [
            json!({"renderer": "hf", "stop": [IM_END]}),
            json!({"renderer": "hf", "stop": [7]})
        ]
    );
    for mock in &api.mocks[5..] {
        mock.assert();
    }
}

#[test]
fn bad_chat_lines_are_refused_naming_the_line_and_the_message() {
    let server = mockito::Server::new(); // no mocks: any request would get a 501
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &[
            r#"{"prompt": "fine"}"#,
            r#"{"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}"#,
            r#"{"tokens": [1]}"#,
            r#"{"messages": [{"role": "user"}]}"#,
            r#"{"prompt": "x", "messages": [{"role": "user", "content": "y"}]}"#,
        ],
    );
    let tok = qwen3_tokenizer();
    let extra = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        &tok,
        "--chat",
        "--input",
        &input,
    ];
    let out = tinkex_at(&url, &extra).run();
    assert_eq!(out.code, 2, "{out:?}");
    let expected = format!(
        "tinkex: error: --input {input}: 4 bad lines; nothing was sampled\n  line 2: messages: message 1 has role \"bot\"; expected one of system, user, assistant, tool\n  line 3: chat mode (--chat/--system) needs \"prompt\" or \"messages\", not \"tokens\"\n  line 4: messages: message 0 has no \"content\"\n  line 5: give one of \"prompt\", \"tokens\" or \"messages\", not several\ntinkex: hint: fix the lines above and run again\n"
    );
    assert_eq!(out.stderr, expected);
}

#[test]
fn single_json_carries_the_renderer_and_the_stops_sent() {
    let mut api = MockTinker::new();
    let asample = api.asample(Matcher::PartialJson(
        json!({"sampling_params": {"stop": [IM_END]}}),
    ));
    api.result(&json!({"sequences": [{"tokens": [9707, IM_END], "logprobs": [-0.1, -0.2], "stop_reason": "stop"}], "type": "sample"}).to_string());
    let tok = qwen3_tokenizer();
    let out = api.tinkex(&qwen3_chat_hi(&tok, &["--json", "-q"])).run();
    assert_eq!(out.code, 0, "{out:?}");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "model",
            "prompt_tokens",
            "chat",
            "sequences",
            "prompt_cache_hit_tokens"
        ]
    );
    assert_eq!(doc["prompt_tokens"], json!(9));
    assert_eq!(doc["chat"], json!({"renderer": "hf", "stop": [IM_END]}));
    asample.assert();
}

/// A tokenizer whose `eos_token` is the ordinary token "!" (id 0): the default stop of an
/// unknown model, and not a special token, so only the sent stop ids can hide it.
#[test]
fn plain_chat_output_leaves_out_a_final_default_stop_that_is_not_special() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("qwen3/tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("qwen3/tokenizer_config.json")).unwrap(),
    )
    .unwrap();
    config["eos_token"] = json!("!");
    std::fs::write(dir.path().join("tokenizer_config.json"), config.to_string()).unwrap();
    let mut api = MockTinker::new();
    let asample = api.asample(Matcher::PartialJson(json!({
        "prompt": {"chunks": [{"tokens": USER_HI}]},
        "sampling_params": {"stop": [0]},
    })));
    api.result(&json!({"sequences": [{"tokens": [9707, 0], "logprobs": [-0.1, -0.2], "stop_reason": "stop"}], "type": "sample"}).to_string());
    let tok = dir.path().display().to_string();
    let out = api
        .tinkex(&[
            "--base-model",
            "acme/chat-model",
            "--chat",
            "--prompt",
            "hi",
            "--tokenizer",
            &tok,
            "--no-tokenizer-cache",
            "-q",
        ])
        .run();
    assert_eq!(out.parts(), (0, "Hello\n", ""), "{out:?}");
    asample.assert();
}
