//! The tokenizer cache and the read commands against hostile surroundings (issue 23): a quick
//! `score` exit leaves no half-written cache file, `cache clear` never deletes through a
//! symlink, `prefetch` without a usable commit fails, and keys never leak in pieces.

use std::fs;
use std::path::Path;

use serde_json::json;

use crate::support::catalog::CatalogApi;
use crate::support::{fixture, qwen3_tokenizer, tinkex, Outcome, KEY};

/// The files in `dir` (none when it does not exist), by name.
fn names(dir: &Path) -> Vec<String> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_quick_score_exit_waits_for_the_cache_write() {
    // The server refuses the key at once: the run ends right after the cold tokenizer build
    // handed its 9 MB cache entry to the background writer.
    let mut server = mockito::Server::new();
    let _refused = server
        .mock("GET", mockito::Matcher::Any)
        .with_status(401)
        .with_body(r#"{"detail":"invalid key"}"#)
        .create();
    let _refused_post = server
        .mock("POST", mockito::Matcher::Any)
        .with_status(401)
        .with_body(r#"{"detail":"invalid key"}"#)
        .create();
    let root = tempfile::tempdir().unwrap();
    let xdg = root.path().join("xdg");
    let tokenizer = qwen3_tokenizer();
    let out = tinkex(&[
        "score",
        "--base-url",
        &server.url(),
        "--api-key",
        KEY,
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokenizer",
        &tokenizer,
        "--context",
        "The capital of France is",
        "--continuation",
        " Paris",
    ])
    .env("XDG_CACHE_HOME", &xdg.display().to_string())
    .run();
    let (code, _, stderr) = out.parts();
    assert_eq!(code, 3, "{stderr}");
    let files = names(&xdg.join("tinkex/tokenizers"));
    assert!(
        files.iter().all(|f| !f.ends_with(".tmp")),
        "a half-written cache file was left: {files:?}"
    );
    let entries = files.iter().filter(|f| f.ends_with(".tkc")).count();
    let records = files.iter().filter(|f| f.ends_with(".tkp")).count();
    assert_eq!((entries, records), (1, 1), "{files:?}");
}

/// `text` with whitespace and the escapes a line break may become (`\n`, `\r`) taken out.
fn joined(text: &str) -> String {
    let text = text.replace("\\n", "").replace("\\r", "");
    text.split_whitespace().collect()
}

/// Fails when any 8-character window of `secret` shows in `text`, across line breaks too.
fn assert_no_window(secret: &str, text: &str) {
    let visible = joined(text);
    for window in secret.as_bytes().windows(8) {
        let window = std::str::from_utf8(window).unwrap();
        assert!(
            !visible.contains(window),
            "{window:?} of the key leaks in:\n{text}"
        );
    }
}

/// Runs a read command against `api` with the key given as a flag.
fn read(api: &CatalogApi, args: &[&str]) -> Outcome {
    let url = api.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--base-url", &url, "--api-key", KEY]);
    tinkex(&all).run()
}

#[test]
fn a_refusal_quoting_pieces_of_the_key_never_shows_them() {
    // "key ending …" quotes the key's tail; a line break splits another piece of it.
    let detail = format!(
        "key ending {} revoked; was {}\n{}",
        &KEY[13..],
        &KEY[..6],
        &KEY[6..20]
    );
    let body = json!({ "detail": detail }).to_string();
    for verbosity in ["-q", "-vvv"] {
        let api = CatalogApi::new().fail("/api/v1/training_runs", 401, &body, 1);
        let out = read(&api, &["training-run", "list", verbosity]);
        assert_eq!(out.code, 3, "{out:?}");
        assert!(out.stderr.contains("[REDACTED]"), "{}", out.stderr);
        assert_no_window(KEY, &format!("{}{}", out.stdout, out.stderr));
    }
}

#[test]
fn odd_numbers_and_bidi_controls_show_the_row_instead_of_failing_the_listing() {
    let data = json!({
        "supported_models": [],
        "training_runs": [
            {"training_run_id": "run-odd", "is_lora": true, "lora_rank": -3, "corrupted": false},
            {"training_run_id": "run-ok", "is_lora": true, "lora_rank": 8, "corrupted": false}
        ],
        "checkpoints": [
            {"checkpoint_id": "evil\u{202e}gpj.exe", "checkpoint_type": "training",
             "size_bytes": 1.5, "tinker_path": "tinker://run-odd/weights/x"},
            {"checkpoint_id": "fine", "checkpoint_type": "training",
             "size_bytes": 2048, "tinker_path": "tinker://run-ok/weights/y"}
        ]
    });
    let api = CatalogApi::new().serve(data.clone());
    let out = read(&api, &["training-run", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("Rank -3") && out.stdout.contains("Rank 8"),
        "{}",
        out.stdout
    );
    let api = CatalogApi::new().serve(data);
    let out = read(&api, &["checkpoint", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains('\u{202e}'), "{}", out.stdout);
    assert!(
        out.stdout.contains("evil\\u{202e}gpj.exe"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("1.5 ") && out.stdout.contains("2.0 KB"),
        "{}",
        out.stdout
    );
}

#[test]
fn cache_clear_never_deletes_through_a_symlinked_cache_directory() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let theirs = root.path().join("my-files");
    fs::create_dir(&theirs).unwrap();
    fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
    // The user's files, named like the cache's and even starting like them.
    let files = ["a.tkc", "b.tkp", ".c.tmp", "d.tkc"];
    for (i, name) in files.iter().enumerate() {
        let content: &[u8] = if i % 2 == 0 {
            b"TINKEXTK and more"
        } else {
            b"notes"
        };
        fs::write(theirs.join(name), content).unwrap();
    }
    let cache = root.path().join("xdg/tinkex");
    fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::symlink(&theirs, cache.join("tokenizers")).unwrap();
    let xdg = root.path().join("xdg").display().to_string();
    for args in [&["cache", "clear"][..], &["cache"][..]] {
        let out = tinkex(args).env("XDG_CACHE_HOME", &xdg).run();
        let (code, _, stderr) = out.parts();
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("symbolic link"), "{stderr}");
    }
    assert_eq!(names(&theirs), [".c.tmp", "a.tkc", "b.tkp", "d.tkc"]);
}

#[test]
fn prefetch_without_a_usable_commit_fails_instead_of_caching_nothing() {
    let tokenizer = fs::read(fixture("small/tokenizer.json")).unwrap();
    let mut hub = mockito::Server::new();
    let _tokenizer = hub
        .mock("GET", "/Org/Small/resolve/main/tokenizer.json")
        .with_header("x-repo-commit", "../../escape")
        .with_body(&tokenizer)
        .create();
    let _others = hub
        .mock(
            "GET",
            mockito::Matcher::Regex("^/Org/Small/resolve/main/".into()),
        )
        .with_status(404)
        .with_header("x-error-code", "EntryNotFound")
        .create();
    let root = tempfile::tempdir().unwrap();
    let out = tinkex(&["prefetch", "--base-model", "Org/Small"])
        .env("HF_HUB_OFFLINE", "0")
        .env("HF_ENDPOINT", &hub.url())
        .env("HF_HOME", &root.path().join("hf").display().to_string())
        .env(
            "XDG_CACHE_HOME",
            &root.path().join("xdg").display().to_string(),
        )
        .run();
    let (code, stdout, stderr) = out.parts();
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stderr.contains("no usable commit"), "{stderr}");
    assert!(!root.path().join("escape").exists());
}
