//! Chat profiles against the tinker-cookbook's output, the model table, template discovery,
//! and the sandbox's limits and errors.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use tinkex::chat::{self, Message, Profile, Renderer, Stop};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn qwen3() -> tokenizers::Tokenizer {
    tokenizers::Tokenizer::from_file(root().join("fixtures/qwen3/tokenizer.json")).unwrap()
}

fn conversation(name: &str) -> Vec<Message> {
    let messages = crate::support::conversation(name);
    chat::parse_messages(&serde_json::to_vec(&messages).unwrap(), name).unwrap()
}

fn profile_of(name: &str) -> Profile {
    match Renderer::from_name(name).unwrap().profile() {
        Some(p) => p,
        None => panic!("{name} is not a profile"),
    }
}

#[test]
fn profiles_match_the_cookbook() {
    let golden = read_json(&root().join("fixtures/chat/goldens/profiles.json"));
    let tok = qwen3();
    let mut rows = Vec::new();
    for entry in golden["profiles"].as_array().unwrap() {
        let profile = profile_of(entry["profile"].as_str().unwrap());
        let bos = entry["bos_token"].as_str();
        let (mut ok, mut total) = (0, 0);
        for case in entry["cases"].as_array().unwrap() {
            let messages = conversation(case["conversation"].as_str().unwrap());
            let pieces = chat::render_profile(profile, &messages, bos).unwrap();
            let prompt = chat::Prompt { pieces };
            assert_eq!(prompt.text(), case["text"].as_str().unwrap(), "{entry:?}");
            if let Some(want) = case.get("tokens") {
                let ids = prompt
                    .encode(&|t| Ok(tok.encode_fast(t, false).unwrap().get_ids().to_vec()))
                    .unwrap();
                let want: Vec<u32> = serde_json::from_value(want.clone()).unwrap();
                assert_eq!(ids, want, "{} {}", entry["profile"], case["conversation"]);
            }
            ok += 1;
            total += 1;
        }
        rows.push(format!(
            "{} ({}): {ok}/{total}",
            entry["profile"], entry["tokenizer"]
        ));
    }
    eprintln!("cookbook profile parity:\n{}", rows.join("\n"));
    assert_eq!(rows.len(), 6);
}

/// The stops each profile's model gets equal the cookbook's `get_stop_sequences`, with ids
/// looked up in the real tokenizer's table the generator recorded.
#[test]
fn default_stops_match_the_cookbook() {
    let golden = read_json(&root().join("fixtures/chat/goldens/profiles.json"));
    let models = [
        ("role_colon", "meta-llama/Llama-3.1-8B"),
        ("llama3", "meta-llama/Llama-3.1-8B-Instruct"),
        ("gpt_oss_no_sysprompt", "openai/gpt-oss-20b"),
    ];
    for entry in golden["profiles"].as_array().unwrap() {
        let Some(want) = entry.get("stop_sequences") else {
            continue;
        };
        let name = entry["profile"].as_str().unwrap();
        let model = models.iter().find(|(p, _)| *p == name).unwrap().1;
        let renderer = chat::renderer_for_model(model);
        assert_eq!(renderer.name(), name);
        let table = entry["stop_tokens"].as_object().unwrap();
        let lookup = |t: &str| table.get(t).and_then(Value::as_u64).map(|id| id as u32);
        let got: Vec<Value> =
            chat::default_stops(model, renderer, &lookup, Some("<|end_of_text|>"))
                .into_iter()
                .map(|s| match s {
                    Stop::Text(t) => json!(t),
                    Stop::Token { id, .. } => json!(id),
                })
                .collect();
        assert_eq!(&Value::Array(got), want, "{model}");
    }
}

#[test]
fn model_table() {
    let cases = [
        ("Qwen/Qwen3-8B", "hf"),
        ("Qwen/Qwen3-8B-Base", "role_colon"),
        ("Qwen/Qwen3.5-35B-A3B-Base", "role_colon"),
        ("meta-llama/Llama-3.2-1B", "role_colon"),
        ("meta-llama/Llama-3.1-70B", "role_colon"),
        ("meta-llama/Llama-3.3-70B-Instruct", "llama3"),
        ("meta-llama/Llama-3.1-8B-Instruct:step-100", "llama3"),
        ("openai/gpt-oss-120b", "gpt_oss_no_sysprompt"),
        ("deepseek-ai/DeepSeek-V3.1", "hf"),
        ("deepseek-ai/DeepSeek-V3.1-Base", "role_colon"),
        ("moonshotai/Kimi-K2-Thinking", "hf"),
        ("someone/unknown-model", "hf"),
    ];
    for (model, want) in cases {
        assert_eq!(chat::renderer_for_model(model).name(), want, "{model}");
    }
    let effort: Map<String, Value> = [("reasoning_effort".to_string(), json!("high"))]
        .into_iter()
        .collect();
    let none = Map::new();
    let gpt = "openai/gpt-oss-20b";
    assert_eq!(
        chat::choose_renderer(gpt, None, false, &effort),
        Renderer::Hf
    );
    assert_eq!(
        chat::choose_renderer(gpt, None, false, &none),
        Renderer::GptOssNoSysprompt
    );
    assert_eq!(chat::choose_renderer(gpt, None, true, &none), Renderer::Hf);
    let explicit = Some(Renderer::RoleColon);
    assert_eq!(
        chat::choose_renderer(gpt, explicit, true, &none),
        Renderer::RoleColon
    );
    let err = Renderer::from_name("chatml").unwrap_err().to_string();
    assert_eq!(
        err,
        "--renderer: unknown renderer \"chatml\"; expected one of role_colon, llama3, gpt_oss_no_sysprompt, hf"
    );
}

#[test]
fn default_stops_look_ids_up_in_the_tokenizer() {
    let tok = qwen3();
    let lookup = |t: &str| tok.token_to_id(t);
    let eos = Some("<|im_end|>");
    let stops = chat::default_stops("Qwen/Qwen3-8B", Renderer::Hf, &lookup, eos);
    let im_end = Stop::Token {
        text: "<|im_end|>".into(),
        id: 151645,
    };
    assert_eq!(stops, std::slice::from_ref(&im_end));
    // Unknown family: the tokenizer's eos token.
    let unknown = chat::default_stops("acme/model", Renderer::Hf, &lookup, Some("<|endoftext|>"));
    let endoftext = Stop::Token {
        text: "<|endoftext|>".into(),
        id: 151643,
    };
    assert_eq!(unknown, [endoftext]);
    // A family token missing from the vocabulary falls back to eos.
    let llama_on_qwen = chat::default_stops(
        "meta-llama/Llama-3.1-8B-Instruct",
        Renderer::Llama3,
        &lookup,
        eos,
    );
    assert_eq!(llama_on_qwen, [im_end]);
    let base = chat::default_stops("Qwen/Qwen3-8B-Base", Renderer::RoleColon, &lookup, eos);
    assert_eq!(base, [Stop::Text("\n\nUser:".into())]);
}

#[test]
fn think_switch_per_family() {
    let cases = [
        ("Qwen/Qwen3-8B", "enable_thinking"),
        ("Qwen/Qwen3.5-27B", "enable_thinking"),
        (
            "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
            "enable_thinking",
        ),
        ("deepseek-ai/DeepSeek-V3.1", "thinking"),
    ];
    for (model, name) in cases {
        assert_eq!(
            chat::think_arg(model, false).unwrap(),
            (name.to_string(), json!(false))
        );
        assert_eq!(
            chat::think_arg(model, true).unwrap(),
            (name.to_string(), json!(true))
        );
    }
    let err = chat::think_arg("meta-llama/Llama-3.1-8B-Instruct", false).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "--no-think: meta-llama/Llama-3.1-8B-Instruct has no thinking switch tinkex knows"
    );
}
