//! The template engine's sandbox: errors naming the template, the fuel budget, Python's
//! values and clock; template discovery; and chat files found beside, cached or downloaded.

use std::path::PathBuf;

use serde_json::Map;
use tinkex::chat::{self, ChatTemplate, Message, RenderOptions, Renderer, TokenizerConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

mod repo_files {
    use std::time::Duration;

    use tinkex::tokenizer::{self, HubRetry, HubSettings, TokenizerSpec};
    use tinkex::Deadline;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn hub(cache: &std::path::Path, endpoint: &str, offline: bool) -> HubSettings {
        HubSettings {
            endpoint: endpoint.to_string(),
            token: None,
            cache_dir: cache.to_path_buf(),
            offline,
        }
    }

    fn fetch(settings: &HubSettings, file: &str) -> tinkex::Result<Option<tokenizer::RepoFile>> {
        let retry = HubRetry {
            attempts: 2,
            first_backoff: Duration::from_millis(1),
        };
        let spec = TokenizerSpec::Repo("Org/Chat".into());
        tokenizer::repo_file(
            &spec,
            file,
            settings,
            &Deadline::after(Duration::from_secs(30)),
            &retry,
        )
    }

    #[test]
    fn downloaded_once_then_cached_and_misses_remembered() {
        let mut server = mockito::Server::new();
        let config = server
            .mock("GET", "/Org/Chat/resolve/main/tokenizer_config.json")
            .with_header("x-repo-commit", COMMIT)
            .with_body(r#"{"eos_token": "<|im_end|>"}"#)
            .expect(1)
            .create();
        let missing = server
            .mock("GET", "/Org/Chat/resolve/main/chat_template.jinja")
            .with_status(404)
            .with_header("x-error-code", "EntryNotFound")
            .expect(1)
            .create();
        let cache = tempfile::tempdir().unwrap();
        let settings = hub(cache.path(), &server.url(), false);
        for _ in 0..2 {
            let found = fetch(&settings, "tokenizer_config.json").unwrap().unwrap();
            assert_eq!(found.bytes, br#"{"eos_token": "<|im_end|>"}"#);
            assert!(fetch(&settings, "chat_template.jinja").unwrap().is_none());
        }
        let repo = cache.path().join("models--Org--Chat");
        assert!(repo
            .join(format!("snapshots/{COMMIT}/tokenizer_config.json"))
            .is_file());
        assert!(repo
            .join(format!(".no_exist/{COMMIT}/chat_template.jinja"))
            .is_file());
        config.assert();
        missing.assert();
    }

    #[test]
    fn offline_misses_are_none_and_files_beside_a_tokenizer_are_read() {
        let cache = tempfile::tempdir().unwrap();
        let settings = hub(cache.path(), "http://127.0.0.1:9", true);
        assert!(fetch(&settings, "tokenizer_config.json").unwrap().is_none());
        let spec = TokenizerSpec::File(super::root().join("fixtures/qwen3/tokenizer.json"));
        let deadline = Deadline::after(Duration::from_secs(5));
        let retry = HubRetry::default();
        let found =
            tokenizer::repo_file(&spec, "tokenizer_config.json", &settings, &deadline, &retry)
                .unwrap()
                .unwrap();
        assert!(found
            .origin
            .ends_with("fixtures/qwen3/tokenizer_config.json"));
        let none = tokenizer::repo_file(&spec, "chat_template.jinja", &settings, &deadline, &retry)
            .unwrap();
        assert!(none.is_none());
    }
}
