//! Chat rendering against goldens made by Python transformers and the tinker-cookbook
//! (tools/gen_chat_goldens.py): byte-identical text, and identical token ids for Qwen3.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tinkex::chat::{self, Message, RenderOptions, Renderer, TokenizerConfig};

fn chat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/chat")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn conversations() -> BTreeMap<String, Vec<Message>> {
    let data = read_json(&chat_dir().join("conversations.json"));
    data["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let bytes = serde_json::to_vec(&c["messages"]).unwrap();
            let name = c["name"].as_str().unwrap().to_string();
            (name.clone(), chat::parse_messages(&bytes, &name).unwrap())
        })
        .collect()
}

fn qwen3_encoder() -> tokenizers::Tokenizer {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/qwen3/tokenizer.json");
    tokenizers::Tokenizer::from_file(path).unwrap()
}

fn encode_plain(tok: &tokenizers::Tokenizer, text: &str) -> tinkex::Result<Vec<u32>> {
    Ok(tok.encode_fast(text, false).unwrap().get_ids().to_vec())
}

fn fixed_now(golden: &Value) -> jiff::civil::DateTime {
    golden["fixed_now"].as_str().unwrap().parse().unwrap()
}

/// Checks one golden case; returns a description of the mismatch, if any.
fn check_case(
    config: &TokenizerConfig,
    messages: &[Message],
    case: &Value,
    now: jiff::civil::DateTime,
    tok: Option<&tokenizers::Tokenizer>,
) -> Option<String> {
    let args: Map<String, Value> = case["args"].as_object().unwrap().clone();
    let opts = RenderOptions {
        add_generation_prompt: true,
        now: Some(now),
        fuel: None,
    };
    let result = chat::render(Renderer::Hf, config, None, messages, &args, &opts);
    match (result, case.get("text")) {
        (Ok(prompt), Some(want)) => {
            let text = prompt.text();
            if text != want.as_str().unwrap() {
                return Some(format!("text differs:\n got: {text:?}\nwant: {want:?}"));
            }
            let (Some(tok), Some(want_ids)) = (tok, case.get("tokens")) else {
                return None;
            };
            let ids = prompt.encode(&|t| encode_plain(tok, t)).unwrap();
            let want_ids: Vec<u32> = serde_json::from_value(want_ids.clone()).unwrap();
            (ids != want_ids).then(|| format!("token ids differ: got {ids:?}, want {want_ids:?}"))
        }
        (Err(e), None) => {
            let want = case["error"].as_str().unwrap();
            let raised = case["error_kind"] == "raise_exception";
            let msg = e.to_string();
            let ok = e.exit_code() == 2
                && (!raised || msg.ends_with(&format!("refused the conversation: {want}")));
            (!ok).then(|| format!("error differs: got {msg:?}, want {want:?}"))
        }
        (Ok(prompt), None) => Some(format!(
            "rendered {:?} where Python failed: {}",
            prompt.text(),
            case["error"]
        )),
        (Err(e), Some(_)) => Some(format!("failed where Python rendered: {e}")),
    }
}

#[test]
fn hf_templates_match_transformers() {
    let convs = conversations();
    let tok = qwen3_encoder();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(chat_dir().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let golden = read_json(&chat_dir().join(format!("goldens/{name}.json")));
        let config = TokenizerConfig::from_dir(dir).unwrap();
        let now = fixed_now(&golden);
        let (mut matched, mut total, mut conv_ok) = (0, 0, BTreeMap::<&str, bool>::new());
        for case in golden["cases"].as_array().unwrap() {
            let conv = case["conversation"].as_str().unwrap();
            let tok = (name == "qwen3").then_some(&tok);
            let problem = check_case(&config, &convs[conv], case, now, tok);
            total += 1;
            let entry = conv_ok.entry(conv).or_insert(true);
            match problem {
                None => matched += 1,
                Some(p) => {
                    *entry = false;
                    failures.push(format!("{name} / {conv} / {}: {p}", case["variant"]));
                }
            }
        }
        let convs_ok = conv_ok.values().filter(|ok| **ok).count();
        table.push(format!(
            "{name:<18} {convs_ok:>2}/{:<2} conversations {matched:>3}/{total:<3} renders",
            conv_ok.len()
        ));
    }
    eprintln!(
        "chat template parity (transformers 5.24 goldens):\n{}",
        table.join("\n")
    );
    assert!(dirs.len() >= 8, "at least 8 templates");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
