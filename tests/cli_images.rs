//! `--image`, image parts in `--messages` and `--print-prompt`'s image layout, end to end with
//! the built binary: refusals exit 2 before any request; the demo server checks the counts.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use mockito::{Matcher, Mock, Server};
use serde_json::{json, Value};

use crate::demo::{DemoConfig, DemoServer};
use crate::image_goldens::png;
use crate::support::e2e::{run_args, Scratch};
use crate::support::{fixture, tinkex};

const VL: &str = "Qwen/Qwen3-VL-30B-A3B-Instruct";

/// A tokenizer folder for a vision model: the Qwen3 tokenizer, the Qwen-VL template and (when
/// `vision`) the Qwen3-VL `preprocessor_config.json`. Returns the `tokenizer.json` path.
fn vision_tokenizer(dir: &Path, vision: bool) -> String {
    let model = dir.join(if vision { "vl" } else { "text" });
    std::fs::create_dir_all(&model).unwrap();
    for (from, name) in [
        ("qwen3/tokenizer.json", "tokenizer.json"),
        ("qwen3/tokenizer_config.json", "tokenizer_config.json"),
        ("images/chat_template.jinja", "chat_template.jinja"),
    ] {
        std::fs::copy(fixture(from), model.join(name)).unwrap();
    }
    if vision {
        let name = "preprocessor_config.json";
        std::fs::copy(fixture(&format!("images/{name}")), model.join(name)).unwrap();
    }
    model.join("tokenizer.json").display().to_string()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn print_prompt(tok: &str, extra: &[&str]) -> crate::support::Outcome {
    let mut args = vec![
        "run",
        "--base-model",
        VL,
        "--tokenizer",
        tok,
        "--print-prompt",
    ];
    args.extend(extra);
    tinkex(&args).run()
}

#[test]
fn image_flag_puts_the_image_before_the_text_and_counts_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let tok = vision_tokenizer(dir.path(), true);
    let cat = write(dir.path(), "cat.png", &png(224, 224));
    let args = ["--image", &cat, "--prompt", "What is in the picture?"];
    let out = print_prompt(&tok, &args);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let text = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is in the picture?<|im_end|>\n<|im_start|>assistant\n";
    let json_out = print_prompt(&tok, &[&args[..], &["--json"]].concat());
    assert_eq!(json_out.code, 0, "{json_out:?}");
    let doc: Value = serde_json::from_str(&json_out.stdout).unwrap();
    let text_tokens = doc["tokens"].as_array().unwrap().len();
    assert_eq!(
        out.stdout,
        format!("{text}{} tokens (64 image tokens)\n", text_tokens + 64)
    );
    assert_eq!(doc["text"], text);
    assert_eq!(doc["token_count"], text_tokens + 64);
    assert_eq!(doc["image_tokens"], 64);
    let chunks = doc["chunks"].as_array().unwrap();
    let kinds: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["text", "image", "text"]);
    assert_eq!(
        chunks[1],
        json!({"type": "image", "tokens": 64, "format": "png", "width": 224, "height": 224,
               "bytes": png(224, 224).len(), "source": cat})
    );
    let text_total: u64 = [&chunks[0], &chunks[2]]
        .iter()
        .map(|c| c["tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(text_total as usize, text_tokens);
    assert!(!json_out.stdout.contains(&b64(&png(224, 224))[..20]));
}

#[test]
fn messages_take_image_parts_by_path_and_data_url_in_any_turn() {
    let dir = tempfile::tempdir().unwrap();
    let tok = vision_tokenizer(dir.path(), true);
    let pics = dir.path().join("pics");
    std::fs::create_dir(&pics).unwrap();
    write(&pics, "a.png", &png(150, 224));
    let data = format!("data:image/png;base64,{}", b64(&png(400, 300)));
    let messages = json!([
        {"role": "user", "content": [{"type": "image", "path": "a.png"}, {"type": "text", "text": "And this?"}]},
        {"role": "assistant", "content": "A picture."},
        {"role": "user", "content": [{"type": "image", "url": data}]},
    ]);
    let file = write(&pics, "m.json", &serde_json::to_vec(&messages).unwrap());
    let out = print_prompt(&tok, &["--messages", &file, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let images: Vec<(u64, u64)> = doc["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "image")
        .map(|c| (c["width"].as_u64().unwrap(), c["tokens"].as_u64().unwrap()))
        .collect();
    assert_eq!(images, [(150, 70), (400, 108)]);
    assert_eq!(doc["image_tokens"], 178);
    assert!(!out.stdout.contains(&data[30..60]), "the data never shows");
}

/// A server that counts every request: refusals must send none.
struct Counting {
    server: mockito::ServerGuard,
    mocks: Vec<Mock>,
}

impl Counting {
    fn new() -> Counting {
        let mut server = Server::new();
        let mocks = ["GET", "POST"]
            .iter()
            .map(|m| server.mock(m, Matcher::Any).expect(0).create())
            .collect();
        Counting { server, mocks }
    }

    fn assert_no_request(&self) {
        self.mocks.iter().for_each(Mock::assert);
    }
}

fn refused(tok: &str, extra: &[&str], message: &str) {
    let counting = Counting::new();
    let url = counting.server.url();
    let mut args = run_args(&url, &["--base-model", VL, "--tokenizer", tok]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = tinkex(&args).run();
    assert_eq!(out.code, 2, "{out:?}");
    let first = out.error_lines().first().map(|l| l.to_string());
    assert_eq!(first.as_deref(), Some(message), "{}", out.stderr);
    counting.assert_no_request();
}

#[test]
fn bad_images_exit_2_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let tok = vision_tokenizer(dir.path(), true);
    let p = |name: &str| dir.path().join(name).display().to_string();
    let gif = write(dir.path(), "cat.png.gif", b"GIF89a\x01\0\x01\0");
    let short = write(dir.path(), "short.png", &png(2, 2)[..12]);
    let wide = write(dir.path(), "wide.png", &png(1000, 2));
    let missing = p("gone.png");
    let prompt = ["--prompt", "hi"];
    refused(
        &tok,
        &[&["--image", &missing][..], &prompt].concat(),
        &format!("tinkex: error: image {missing} does not exist"),
    );
    let gif_error = error_of(&tok, &[&["--image", &gif][..], &prompt].concat());
    assert!(
        gif_error.starts_with(&format!("tinkex: error: image {gif} is a GIF image")),
        "{gif_error}"
    );
    let short_error = error_of(&tok, &[&["--image", &short][..], &prompt].concat());
    assert!(short_error.contains(&short), "{short_error}");
    let wide_error = error_of(&tok, &[&["--image", &wide][..], &prompt].concat());
    assert!(wide_error.contains("aspect ratio"), "{wide_error}");
    let remote = json!([{"role": "user", "content": [{"type": "image", "url": "https://example.com/cat.png"}]}]);
    let m = write(dir.path(), "m.json", &serde_json::to_vec(&remote).unwrap());
    let remote_error = error_of(&tok, &["--messages", &m]);
    assert!(
        remote_error.contains("is a remote image URL (https://example.com/cat.png)"),
        "{remote_error}"
    );
    let text_model = vision_tokenizer(dir.path(), false);
    let cat = write(dir.path(), "cat.png", &png(224, 224));
    refused(
        &text_model,
        &[&["--image", &cat][..], &prompt].concat(),
        &format!(
            "tinkex: error: {VL} takes no images: its repository has no preprocessor_config.json"
        ),
    );
}

/// The first error line of a refused run (exit 2, no request sent).
fn error_of(tok: &str, extra: &[&str]) -> String {
    let counting = Counting::new();
    let mut args = run_args(
        &counting.server.url(),
        &["--base-model", VL, "--tokenizer", tok],
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = tinkex(&args).run();
    assert_eq!(out.code, 2, "{out:?}");
    counting.assert_no_request();
    out.error_lines()[0].to_string()
}

#[test]
fn image_flag_rules() {
    let out = tinkex(&[
        "run",
        "--base-model",
        VL,
        "--input",
        "x.jsonl",
        "--image",
        "a.png",
    ])
    .run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--image is for one prompt"),
        "{}",
        out.stderr
    );
    let out = tinkex(&["run", "--base-model", VL, "--prompt", "x", "--image", ""]).run();
    assert_eq!(
        (out.code, out.error_lines()),
        (2, vec!["tinkex: error: --image is empty"])
    );
    let out = tinkex(&[
        "run",
        "--base-model",
        VL,
        "--prompt",
        "x",
        "--image",
        "a.png",
        "--tokens-only",
    ])
    .run();
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
fn a_run_with_an_image_is_sampled_by_the_demo_server_and_never_logs_the_image() {
    let scratch = Scratch::new();
    let tok = vision_tokenizer(scratch.path(), true);
    let bytes = png(400, 300);
    let cat = write(scratch.path(), "cat.png", &bytes);
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let args = [
        "--base-model",
        VL,
        "--tokenizer",
        &tok,
        "--image",
        &cat,
        "--prompt",
        "Describe it.",
        "--max-tokens",
        "4",
        "--json",
        "--timeout",
        "30",
        "-vvv",
    ];
    let run = scratch.run_env(
        &run_args(&server.url(), &args),
        &[("RUST_LOG", "trace")],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let text_tokens = doc["prompt_tokens"].as_u64().unwrap();
    assert!(
        text_tokens > 108,
        "image tokens count in the prompt length: {doc}"
    );
    let encoded = b64(&bytes);
    for (name, out) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !out.contains(&encoded[..16]),
            "{name} shows the image's base64"
        );
    }
    assert!(
        run.stderr.lines().count() > 5,
        "a trace was written: {}",
        run.stderr
    );
}

#[test]
fn batch_lines_take_images_beside_the_input_and_image_parts() {
    let scratch = Scratch::new();
    let tok = vision_tokenizer(scratch.path(), true);
    let folder = scratch.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    write(&folder, "a.png", &png(224, 224));
    write(&folder, "b.png", &png(150, 224));
    let lines = [
        json!({"id": "flag", "prompt": "What is it?", "images": ["a.png"]}),
        json!({"id": "parts", "messages": [{"role": "user", "content": [
            {"type": "image", "path": "b.png"}, {"type": "text", "text": "And this?"}]}]}),
        json!({"id": "gone", "prompt": "x", "images": ["gone.png"]}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let input = write(&folder, "in.jsonl", text.as_bytes());
    let output = scratch.join("out.jsonl").display().to_string();
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let args = [
        "--base-model",
        VL,
        "--tokenizer",
        &tok,
        "--input",
        &input,
        "--output",
        &output,
        "--max-tokens",
        "2",
        "--timeout",
        "30",
    ];
    let run = scratch.run(&run_args(&server.url(), &args), Duration::from_secs(60));
    assert_eq!(run.code, 2, "one line fails: {run:?}");
    let records: Vec<Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_id = |id: &str| records.iter().find(|r| r["id"] == id).unwrap().clone();
    assert!(
        by_id("flag")["prompt_tokens"].as_u64().unwrap() > 64,
        "{records:?}"
    );
    assert!(
        by_id("parts")["prompt_tokens"].as_u64().unwrap() > 70,
        "{records:?}"
    );
    let gone = by_id("gone").to_string();
    assert!(gone.contains("gone.png does not exist"), "{gone}");
}
