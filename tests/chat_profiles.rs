//! Chat profiles against the tinker-cookbook's output, the model table, template discovery,
//! and the sandbox's limits and errors.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use tinkex::chat::{
    self, ChatTemplate, Message, Profile, RenderOptions, Renderer, Stop, TokenizerConfig,
};

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
    let data = read_json(&root().join("fixtures/chat/conversations.json"));
    let conv = data["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap();
    chat::parse_messages(&serde_json::to_vec(&conv["messages"]).unwrap(), name).unwrap()
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

fn hf(source: &str, messages: &[Message], fuel: Option<u64>) -> tinkex::Result<String> {
    let template = ChatTemplate {
        origin: "t.jinja".into(),
        source: source.into(),
    };
    let opts = RenderOptions {
        add_generation_prompt: true,
        now: Some("2025-03-14T09:26:53".parse().unwrap()),
        fuel,
    };
    let config = TokenizerConfig::default();
    chat::render(
        Renderer::Hf,
        &config,
        Some(&template),
        messages,
        &Map::new(),
        &opts,
    )
    .map(|p| p.text())
}

#[test]
fn template_errors_are_user_errors_naming_the_template() {
    let hi = [Message::text("user", "hi")];
    let err = hf("{{ raise_exception('Only user roles') }}", &hi, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chat template t.jinja refused the conversation: Only user roles"
    );
    assert_eq!(err.exit_code(), 2);
    let err = hf("{% for %}", &hi, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("chat template t.jinja has a syntax error (line 1): "),
        "{err}"
    );
    let err = hf("{{ messages[0].content.nosuchmethod() }}", &hi, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("chat template t.jinja failed (line 1): unknown method"),
        "{err}"
    );
}

#[test]
fn fuel_bounds_runaway_templates() {
    let hi = [Message::text("user", "hi")];
    let spin = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    let err = hf(spin, &hi, Some(100_000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chat template t.jinja used more than its work budget"
    );
    let grow = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}";
    assert!(hf(grow, &hi, Some(1_000_000)).is_err());
    // The default budget is ample for a long conversation with the largest template measured.
    let source =
        std::fs::read_to_string(root().join("fixtures/chat/templates/gpt-oss/chat_template.jinja"))
            .unwrap();
    let long: Vec<Message> = (0..1000)
        .map(|i| {
            Message::text(
                if i % 2 == 0 { "user" } else { "assistant" },
                "some words of text",
            )
        })
        .collect();
    assert!(hf(&source, &long, Some(chat::FUEL / 10)).is_ok());
}

#[test]
fn strftime_and_python_values() {
    let hi = [Message::text("user", "hi")];
    let out = hf(
        "{{ strftime_now('%d %b %Y %H:%M') }} {{ true }} {{ none }} {{ [1, 'a'] }} {{ {'k': 1.0}|tojson }} {{ 'x' is sequence }} {{ none is iterable }}",
        &hi,
        None,
    )
    .unwrap();
    assert_eq!(
        out,
        "14 Mar 2025 09:26 True None [1, 'a'] {\"k\": 1.0} True False"
    );
}

#[test]
fn template_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tokenizer_config.json");
    // No files at all: no special tokens, no template.
    assert_eq!(
        TokenizerConfig::from_dir(dir.path()).unwrap(),
        TokenizerConfig::default()
    );
    std::fs::write(
        &config,
        r#"{"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>", "unk_token": null,
            "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}"#,
    )
    .unwrap();
    let found = TokenizerConfig::from_dir(dir.path()).unwrap();
    assert_eq!(found.special_token("bos_token"), Some("<s>"));
    assert_eq!(found.special_token("unk_token"), None);
    let template = found.template.unwrap();
    assert_eq!(template.source, "D");
    assert!(template
        .origin
        .ends_with("tokenizer_config.json#chat_template"));
    // chat_template.jinja wins over the config's template.
    std::fs::write(dir.path().join("chat_template.jinja"), "J").unwrap();
    assert_eq!(
        TokenizerConfig::from_dir(dir.path())
            .unwrap()
            .template
            .unwrap()
            .source,
        "J"
    );
    std::fs::write(
        &config,
        r#"{"chat_template": [{"name": "rag", "template": "R"}]}"#,
    )
    .unwrap();
    let err = TokenizerConfig::from_files(Some(&config), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("chat_template lists named templates but none is named \"default\""),
        "{err}"
    );
    std::fs::write(&config, "{").unwrap();
    let err = TokenizerConfig::from_files(Some(&config), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tokenizer_config.json is not valid JSON"),
        "{err}"
    );
}

#[test]
fn hf_without_a_template_is_a_user_error_with_a_hint() {
    let hi = [Message::text("user", "hi")];
    let opts = RenderOptions::default();
    let err = chat::render(
        Renderer::Hf,
        &TokenizerConfig::default(),
        None,
        &hi,
        &Map::new(),
        &opts,
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err
        .to_string()
        .starts_with("the tokenizer has no chat template"));
    assert_eq!(
        err.hint(),
        Some("pass --chat-template FILE, or sample a raw prompt without --chat")
    );
}
