//! `tinkex prefetch` against a local hub stub, then `tinkex run --offline` with the hub gone;
//! `tinkex cache` and `tinkex cache clear`.

use std::fs;
use std::path::Path;

use crate::support::tokenizer::COMMIT;
use crate::support::{fixture, tinkex, Tinkex};

const CONFIG: &str = r#"{"bos_token": null, "eos_token": "<|endoftext|>"}"#;

/// `tinkex args` with the hub at `endpoint` and both caches under `root`.
fn with_caches(args: &[&str], root: &Path, endpoint: &str) -> Tinkex {
    tinkex(args)
        .env("HF_HUB_OFFLINE", "0")
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", &root.join("hf").display().to_string())
        .env("XDG_CACHE_HOME", &root.join("xdg").display().to_string())
}

#[test]
fn prefetch_then_an_offline_run_needs_no_network() {
    let tokenizer = fs::read(fixture("small/tokenizer.json")).unwrap();
    let mut hub = mockito::Server::new();
    let file = |name: &str| format!("/Org/Small/resolve/main/{name}");
    let mocks = [
        hub.mock("GET", file("tokenizer.json").as_str())
            .with_header("x-repo-commit", COMMIT)
            .with_body(&tokenizer)
            .expect(1)
            .create(),
        hub.mock("GET", file("tokenizer_config.json").as_str())
            .with_header("x-repo-commit", COMMIT)
            .with_body(CONFIG)
            .expect(1)
            .create(),
        hub.mock("GET", file("chat_template.jinja").as_str())
            .with_status(404)
            .with_header("x-repo-commit", COMMIT)
            .with_header("x-error-code", "EntryNotFound")
            .expect(1)
            .create(),
        // Vision repositories' files: a text model has neither.
        hub.mock("GET", file("chat_template.json").as_str())
            .with_status(404)
            .with_header("x-repo-commit", COMMIT)
            .with_header("x-error-code", "EntryNotFound")
            .expect(1)
            .create(),
        hub.mock("GET", file("preprocessor_config.json").as_str())
            .with_status(404)
            .with_header("x-repo-commit", COMMIT)
            .with_header("x-error-code", "EntryNotFound")
            .expect(1)
            .create(),
    ];
    let root = tempfile::tempdir().unwrap();
    let out = with_caches(
        &["prefetch", "--base-model", "Org/Small"],
        root.path(),
        &hub.url(),
    )
    .run();
    let (code, stdout, stderr) = out.parts();
    assert_eq!(code, 0, "{stdout}{stderr}");
    let snapshot = root
        .path()
        .join(format!("hf/hub/models--Org--Small/snapshots/{COMMIT}"));
    let tkc = fs::read_dir(root.path().join("xdg/tinkex/tokenizers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tkc"))
        .expect("a fast cache entry");
    for line in [
        format!(
            "tokenizer.json         {}",
            snapshot.join("tokenizer.json").display()
        ),
        format!(
            "tokenizer_config.json  {}",
            snapshot.join("tokenizer_config.json").display()
        ),
        "chat_template.jinja    not in the repository".to_string(),
        "chat_template.json     not in the repository".to_string(),
        "preprocessor_config.json not in the repository".to_string(),
        format!("fast cache             {} (", tkc.display()),
    ] {
        assert!(stdout.contains(&line), "missing {line:?} in:\n{stdout}");
    }
    for mock in &mocks {
        mock.assert();
    }
    drop(hub);
    // The hub is gone: a closed port, and offline on top.
    let args = [
        "run",
        "--base-model",
        "Org/Small",
        "--prompt",
        "hello world",
        "--print-prompt",
        "--offline",
        "--json",
    ];
    let closed = "http://127.0.0.1:9";
    let offline = with_caches(&args, root.path(), closed)
        .env("RUST_LOG", "debug")
        .run();
    let (code, stdout, stderr) = offline.parts();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("\"tokens\""), "{stdout}");
    assert!(
        !stderr.contains("tokenizer cache written"),
        "the prefetched entry was not used:\n{stderr}"
    );
}

#[test]
fn cache_lists_entries_and_clear_empties_it() {
    let root = tempfile::tempdir().unwrap();
    let small = fixture("small/tokenizer.json").display().to_string();
    let run = [
        "run",
        "--base-model",
        "Org/Small",
        "--tokenizer",
        &small,
        "--prompt",
        "hello",
        "--print-prompt",
    ];
    let built = with_caches(&run, root.path(), "http://127.0.0.1:9").run();
    let (code, _, stderr) = built.parts();
    assert_eq!(code, 0, "{stderr}");
    let list = with_caches(&["cache"], root.path(), "").run();
    let (code, stdout, stderr) = list.parts();
    assert_eq!(code, 0, "{stderr}");
    let dir = root.path().join("xdg/tinkex/tokenizers");
    assert!(
        stdout.starts_with(&format!(
            "tokenizer cache: {} (cap 1.0 GB)\n",
            dir.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains(&small), "{stdout}");
    assert!(stdout.contains("just now"), "{stdout}");
    assert!(stdout.contains("in 1 entry\n"), "{stdout}");
    let clear = with_caches(&["cache", "clear"], root.path(), "").run();
    let (code, stdout, stderr) = clear.parts();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("removed 2 files ("), "{stdout}");
    let list = with_caches(&["cache"], root.path(), "").run();
    assert!(list.parts().1.ends_with("total 0 B in 0 entries\n"));
}

#[test]
fn prefetch_without_a_model_is_a_usage_error() {
    let out = tinkex(&["prefetch"]).run();
    let (code, stdout, stderr) = out.parts();
    assert_eq!((code, stdout), (2, ""));
    assert!(
        stderr.starts_with("tinkex: error: prefetch needs --base-model or --tokenizer"),
        "{stderr}"
    );
}

#[test]
fn a_cold_run_encodes_exactly_as_a_warm_run_and_as_the_full_tokenizer() {
    let root = tempfile::tempdir().unwrap();
    let qwen3 = crate::support::qwen3_tokenizer();
    let prompt =
        "Héllo wörld!  12345 今天天气很好 <|im_start|>user\n\tfn main() { x_1 += 0x1F; } 👍🏽";
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--base-model",
            "Qwen/Qwen3-8B",
            "--tokenizer",
            &qwen3,
            "--prompt",
            prompt,
            "--print-prompt",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = with_caches(&args, root.path(), "http://127.0.0.1:9").run();
        let (code, stdout, stderr) = out.parts();
        assert_eq!(code, 0, "{stderr}");
        let doc: serde_json::Value = serde_json::from_str(stdout).unwrap();
        doc["tokens"].clone()
    };
    let cold = run(&[]);
    let warm = run(&[]);
    let full = run(&["--no-tokenizer-cache"]);
    assert!(cold.as_array().is_some_and(|ids| ids.len() > 20), "{cold}");
    assert_eq!(cold, warm);
    assert_eq!(cold, full);
}
