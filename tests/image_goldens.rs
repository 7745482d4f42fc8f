//! Images in prompts against goldens made by tinker-cookbook 0.6.1 and transformers'
//! Qwen2-VL image processor (tools/gen_image_goldens.py): token counts per size, and the
//! chunks around each image for whole conversations.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use tinkex::chat::{self, RenderOptions, Renderer, Segment, TokenizerConfig};
use tinkex::client::{Chunk, ImageChunk, ModelInput};
use tinkex::image::{self, Image, Preprocessor, PREPROCESSOR_FILE};

fn images_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images")
}

fn goldens() -> Value {
    let text = std::fs::read_to_string(images_dir().join("goldens.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn fixture_preprocessor() -> Preprocessor {
    let path = images_dir().join(PREPROCESSOR_FILE);
    let bytes = std::fs::read(&path).unwrap();
    image::preprocessor_for("Qwen/Qwen3-VL-30B-A3B-Instruct", Some(("p.json", &bytes))).unwrap()
}

/// A PNG whose header declares `width`×`height` (the reader needs nothing else).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend(width.to_be_bytes());
    b.extend(height.to_be_bytes());
    b.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    b.extend(b"\0\0\0\0IEND\xaeB`\x82");
    b
}

#[test]
fn expected_tokens_match_the_image_processor_for_every_size() {
    let processor = fixture_preprocessor();
    assert_eq!(processor, Preprocessor::QWEN3_VL);
    let sizes = goldens()["sizes"].as_array().unwrap().clone();
    assert!(sizes.len() >= 30);
    for size in sizes {
        let (w, h) = (
            size["width"].as_u64().unwrap() as u32,
            size["height"].as_u64().unwrap() as u32,
        );
        let got = processor.expected_tokens(w, h);
        match &size["tokens"] {
            Value::Number(n) => assert_eq!(got, Ok(n.as_u64().unwrap()), "{w}×{h}"),
            refused => {
                assert!(refused
                    .as_str()
                    .unwrap()
                    .starts_with("refused: absolute aspect ratio"));
                assert!(got.unwrap_err().contains("aspect ratio"), "{w}×{h}");
            }
        }
    }
}

/// The golden's messages with each `"image": [w, h]` part turned into a `"path"` part naming a
/// PNG of that size written into `dir`.
fn messages_with_files(messages: &Value, dir: &Path) -> Value {
    let mut messages = messages.clone();
    for m in messages.as_array_mut().unwrap() {
        let Some(parts) = m["content"].as_array_mut() else {
            continue;
        };
        for part in parts.iter_mut().filter(|p| p["type"] == "image") {
            let (w, h) = (
                part["image"][0].as_u64().unwrap(),
                part["image"][1].as_u64().unwrap(),
            );
            let name = format!("{w}x{h}.png");
            std::fs::write(dir.join(&name), png(w as u32, h as u32)).unwrap();
            *part = json!({"type": "image", "path": name});
        }
    }
    messages
}

/// Consecutive text chunks joined: the server reads them as one run of tokens.
fn merged(chunks: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for c in chunks {
        match (out.last_mut(), c["type"].as_str()) {
            (Some(last), Some("text")) if last["type"] == "text" => {
                last["tokens"]
                    .as_array_mut()
                    .unwrap()
                    .extend(c["tokens"].as_array().unwrap().clone());
            }
            _ => out.push(c.clone()),
        }
    }
    out
}

#[test]
fn conversations_render_to_the_cookbooks_chunks() {
    let tok = tokenizers::Tokenizer::from_file(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/qwen3/tokenizer.json"),
    )
    .unwrap();
    let config = TokenizerConfig::from_dir(&images_dir()).unwrap();
    let processor = fixture_preprocessor();
    let opts = RenderOptions {
        add_generation_prompt: true,
        now: None,
        fuel: None,
    };
    let dir = tempfile::tempdir().unwrap();
    for (n, case) in goldens()["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let value = messages_with_files(&case["messages"], dir.path());
        let messages = chat::messages_from_value(value, "m.json").unwrap();
        let images = chat::load_images(&messages, dir.path(), "m.json").unwrap();
        let prompt =
            chat::render(Renderer::Hf, &config, None, &messages, &Map::new(), &opts).unwrap();
        assert_eq!(
            prompt.text(),
            case["text"].as_str().unwrap(),
            "conversation {n}"
        );
        let mut chunks = Vec::new();
        let mut got = Vec::new();
        for segment in chat::split_at_images(&prompt.text(), images.len()).unwrap() {
            match segment {
                Segment::Text(text) => {
                    let ids = tok
                        .encode_fast(text.as_str(), false)
                        .unwrap()
                        .get_ids()
                        .to_vec();
                    got.push(json!({"type": "text", "tokens": ids}));
                    chunks.push(Chunk::Text(ids));
                }
                Segment::Image(i) => {
                    let expected_tokens = images[i].expected_tokens(&processor).unwrap();
                    got.push(json!({"type": "image", "expected_tokens": expected_tokens}));
                    let image = std::sync::Arc::new(images[i].clone());
                    chunks.push(Chunk::Image(ImageChunk {
                        image,
                        expected_tokens,
                    }));
                }
            }
        }
        assert_eq!(
            got,
            merged(case["chunks"].as_array().unwrap()),
            "conversation {n}"
        );
        // The same chunks on the wire, in order; the prompt's length counts image tokens.
        let input = ModelInput::from_chunks(chunks);
        let wire = serde_json::to_value(&input).unwrap();
        let kinds: Vec<&str> = wire["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = got
            .iter()
            .map(|c| {
                if c["type"] == "text" {
                    "encoded_text"
                } else {
                    "image"
                }
            })
            .collect();
        assert_eq!(kinds, want, "conversation {n}");
        let image_tokens: u64 = got
            .iter()
            .filter_map(|c| c["expected_tokens"].as_u64())
            .sum();
        assert_eq!(input.len(), input.tokens().len() + image_tokens as usize);
    }
}

#[test]
fn image_chunks_serialise_in_the_sdks_field_order() {
    let image = Image::from_bytes("a.png".into(), png(224, 224)).unwrap();
    let chunk = ImageChunk {
        image: std::sync::Arc::new(image),
        expected_tokens: 64,
    };
    let input = ModelInput::from_chunks(vec![
        Chunk::Text(vec![1, 2]),
        Chunk::Image(chunk.clone()),
        Chunk::Text(vec![3]),
    ]);
    let body = serde_json::to_string(&input).unwrap();
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(png(224, 224));
    assert_eq!(
        body,
        format!(
            r#"{{"chunks":[{{"tokens":[1,2],"type":"encoded_text"}},{{"data":"{data}","format":"png","expected_tokens":64,"type":"image"}},{{"tokens":[3],"type":"encoded_text"}}]}}"#
        )
    );
    // Text only: exactly the body tinkex always sent.
    let plain = serde_json::to_string(&ModelInput::from_tokens(vec![5])).unwrap();
    assert_eq!(
        plain,
        r#"{"chunks":[{"tokens":[5],"type":"encoded_text"}]}"#
    );
    // An image first: no empty text chunk before it; Debug never shows the bytes.
    let first = ModelInput::from_chunks(vec![Chunk::Image(chunk)]);
    assert!(serde_json::to_string(&first)
        .unwrap()
        .starts_with(r#"{"chunks":[{"data":"#));
    let shown = format!("{first:?}");
    assert!(
        !shown.contains(&data[..16]) && shown.contains("bytes"),
        "{shown}"
    );
    assert_eq!(first.len(), 64);
}

#[test]
fn refused_parts_and_missing_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let remote = json!([{"role": "user", "content": [{"type": "image", "url": "https://example.com/cat.png"}]}]);
    let err = chat::messages_from_value(remote, "m.json").unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .starts_with("m.json: message 0 part 0 is a remote image URL"),
        "{err}"
    );
    let missing = json!([{"role": "user", "content": [{"type": "image", "path": "gone.png"}]}]);
    let messages = chat::messages_from_value(missing, "m.json").unwrap();
    let err = chat::load_images(&messages, dir.path(), "m.json").unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        format!(
            "image {} does not exist",
            dir.path().join("gone.png").display()
        )
    );
    std::fs::write(dir.path().join("a.gif"), b"GIF89a\x01\0\x01\0").unwrap();
    let gif = json!([{"role": "user", "content": [{"type": "image", "path": "a.gif"}]}]);
    let messages = chat::messages_from_value(gif, "m.json").unwrap();
    let err = chat::load_images(&messages, dir.path(), "m.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("a.gif is a GIF image; only PNG or JPEG images are accepted"),
        "{err}"
    );
    let err = image::preprocessor_for("Qwen/Qwen3-8B", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Qwen/Qwen3-8B takes no images: its repository has no preprocessor_config.json"
    );
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn templates_are_found_in_chat_template_json_and_data_urls_stay_out_of_templates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chat_template.json"),
        r#"{"chat_template": "{{ messages[0].content }}"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"eos_token": "E", "chat_template": "config"}"#,
    )
    .unwrap();
    let config = TokenizerConfig::from_dir(dir.path()).unwrap();
    let template = config.template.as_ref().unwrap();
    assert!(
        template
            .origin
            .ends_with("chat_template.json#chat_template"),
        "{}",
        template.origin
    );
    assert_eq!(config.special_token("eos_token"), Some("E"));
    use base64::Engine;
    let url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(9, 9))
    );
    let value = json!([{"role": "user", "content": [{"type": "image", "url": url}]}]);
    let messages = chat::messages_from_value(value, "m.json").unwrap();
    let opts = RenderOptions {
        add_generation_prompt: false,
        now: None,
        fuel: None,
    };
    let text = chat::render(Renderer::Hf, &config, None, &messages, &Map::new(), &opts)
        .unwrap()
        .text();
    assert!(
        !text.contains("base64") && text.contains("'type': 'image'"),
        "{text}"
    );
    // chat_template.jinja wins over chat_template.json.
    std::fs::write(dir.path().join("chat_template.jinja"), "J").unwrap();
    assert_eq!(
        TokenizerConfig::from_dir(dir.path())
            .unwrap()
            .template
            .unwrap()
            .source,
        "J"
    );
}
