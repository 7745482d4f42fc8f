//! Tokenizer choice, settings, local files and the cache layout: everything without a network.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use tinkex::tokenizer::{hf_cache, tokenizer_id_for_model, HubSettings, Tokenizer, TokenizerSpec};
use tinkex::Category;

use crate::support::tokenizer::{failure, hub, load_repo, tiny_bytes, COMMIT, TINY};

fn settings(vars: &[(&str, &str)]) -> HubSettings {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    HubSettings::from_lookup(&|name| map.get(name).cloned())
}

#[test]
fn model_names_map_to_tokenizer_repos_as_the_sdk_does() {
    let cases = [
        ("Qwen/Qwen3-8B", "Qwen/Qwen3-8B"),
        ("Qwen/Qwen3-8B:peft:abc", "Qwen/Qwen3-8B"),
        (
            "meta-llama/Llama-3.1-8B-Instruct",
            "thinkingmachineslabinc/meta-llama-3-instruct-tokenizer",
        ),
        (
            "meta-llama/Llama-3.3-70B:x",
            "thinkingmachineslabinc/meta-llama-3-instruct-tokenizer",
        ),
        ("meta-llama/Llama-2-7b", "meta-llama/Llama-2-7b"),
        ("org/model/variant", "org/model"),
        ("gpt2", "gpt2"),
    ];
    for (model, repo) in cases {
        assert_eq!(tokenizer_id_for_model(model), repo, "model {model}");
    }
}

#[test]
fn tokenizer_argument_is_a_path_or_a_repo_id() {
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap();
    let parse = |arg: &str| TokenizerSpec::parse_with_home(arg, Some(home_str));
    assert_eq!(
        parse("Qwen/Qwen3-8B"),
        TokenizerSpec::Repo("Qwen/Qwen3-8B".into())
    );
    assert_eq!(
        parse("./missing.json"),
        TokenizerSpec::File("./missing.json".into())
    );
    assert_eq!(
        parse("/no/such/file"),
        TokenizerSpec::File("/no/such/file".into())
    );
    assert_eq!(
        parse("~/tok.json"),
        TokenizerSpec::File(home.path().join("tok.json"))
    );
    assert_eq!(
        parse("~"),
        TokenizerSpec::File(home.path().join("tokenizer.json"))
    );
    // An existing relative path needs no prefix; a directory means its tokenizer.json.
    assert_eq!(parse(TINY), TokenizerSpec::File(TINY.into()));
    assert_eq!(
        parse("fixtures/tiny"),
        TokenizerSpec::File(PathBuf::from(TINY))
    );
    assert_eq!(parse("Qwen/Qwen3-8B").id(), "Qwen/Qwen3-8B");
}

#[test]
fn settings_default_to_the_python_locations() {
    let s = settings(&[("HOME", "/nonexistent/u")]);
    assert_eq!(s.endpoint, "https://huggingface.co");
    assert_eq!(
        s.cache_dir,
        Path::new("/nonexistent/u/.cache/huggingface/hub")
    );
    assert_eq!(s.token, None);
    assert!(!s.offline);
    let s = settings(&[("HOME", "/nonexistent/u"), ("XDG_CACHE_HOME", "/x")]);
    assert_eq!(s.cache_dir, Path::new("/x/huggingface/hub"));
}

#[test]
fn settings_follow_hf_variables() {
    let hf_home = tempfile::tempdir().unwrap();
    fs::write(hf_home.path().join("token"), "hf_from_file\n").unwrap();
    let home = hf_home.path().to_str().unwrap();
    let s = settings(&[
        ("HF_HOME", home),
        ("HF_ENDPOINT", "http://mirror.local/"),
        ("HF_HUB_OFFLINE", "1"),
    ]);
    assert_eq!(s.cache_dir, hf_home.path().join("hub"));
    assert_eq!(s.token.as_deref(), Some("hf_from_file"));
    assert_eq!(s.endpoint, "http://mirror.local");
    assert!(s.offline);
    let s = settings(&[
        ("HF_HOME", home),
        ("HF_TOKEN", "hf_env"),
        ("HF_HUB_CACHE", "/c"),
    ]);
    assert_eq!(s.token.as_deref(), Some("hf_env"));
    assert_eq!(s.cache_dir, Path::new("/c"));
    let s = settings(&[
        ("HOME", "/h"),
        ("HF_HUB_CACHE", "~/hub"),
        ("HF_TOKEN", ""),
        ("HF_ENDPOINT", ""),
    ]);
    assert_eq!(s.cache_dir, Path::new("/h/hub"));
    assert_eq!(
        (s.token, s.endpoint.as_str()),
        (None, "https://huggingface.co")
    );
}

#[test]
fn offline_switch_accepts_pythons_spellings() {
    for (value, offline) in [
        ("1", true),
        ("true", true),
        ("YES", true),
        ("on", true),
        ("0", false),
        ("false", false),
        ("", false),
    ] {
        assert_eq!(
            settings(&[("HF_HUB_OFFLINE", value)]).offline,
            offline,
            "HF_HUB_OFFLINE={value:?}"
        );
    }
}

#[test]
fn debug_output_never_shows_the_token() {
    let s = settings(&[("HF_TOKEN", "hf_secret_value")]);
    let shown = format!("{s:?}");
    assert!(!shown.contains("hf_secret_value"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

#[test]
fn a_tokenizer_file_loads_and_round_trips() {
    let tok = Tokenizer::from_file(Path::new(TINY)).unwrap();
    assert_eq!(
        tok.encode("hello world<|end|> foo").unwrap(),
        vec![0, 1, 3, 2]
    );
    assert_eq!(tok.decode(&[0, 1, 3]).unwrap(), "hello world <|end|>");
    assert_eq!(tok.vocab_size(), 4);
    assert!(tok.is_special(3) && !tok.is_special(0));
}

#[test]
fn a_missing_file_is_a_user_error() {
    let (category, message) = failure(
        Tokenizer::from_file(Path::new("/no/such/tokenizer.json")),
        "/no/such/tokenizer.json",
    );
    assert_eq!(category, Category::User);
    assert!(
        message.ends_with("/no/such/tokenizer.json: no such file"),
        "{message}"
    );
}

#[test]
fn corrupt_truncated_and_empty_files_are_user_errors() {
    let dir = tempfile::tempdir().unwrap();
    let qwen = fs::read("fixtures/qwen3/tokenizer.json").unwrap();
    let cases: [(&str, &[u8]); 3] = [
        ("corrupt.json", b"{not json"),
        ("truncated.json", &qwen[..64 * 1024]),
        ("empty.json", b""),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        let id = path.display().to_string();
        let (category, message) = failure(Tokenizer::from_file(&path), &id);
        assert_eq!(category, Category::User, "{name}");
        assert!(
            message.contains("is not a valid tokenizer.json"),
            "{message}"
        );
    }
    let tiktoken = dir.path().join("tiktoken.model");
    fs::write(&tiktoken, "IQ== 0\n").unwrap();
    let (_, message) = failure(
        Tokenizer::from_file(&tiktoken),
        &tiktoken.display().to_string(),
    );
    assert!(message.contains("tiktoken file"), "{message}");
}

#[test]
fn offline_cache_miss_is_a_user_error_naming_offline_mode() {
    let cache = tempfile::tempdir().unwrap();
    let mut server = mockito::Server::new();
    let never = server.mock("GET", mockito::Matcher::Any).expect(0).create();
    let settings = hub(cache.path(), &server.url(), None, true);
    let (category, message) = failure(load_repo("Qwen/Qwen3-8B", &settings), "Qwen/Qwen3-8B");
    never.assert();
    assert_eq!(category, Category::User);
    assert!(
        message.contains("offline mode (HF_HUB_OFFLINE=1 or --offline)"),
        "{message}"
    );
    assert!(
        message.contains(&cache.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn python_layout_with_blob_symlink_is_read_offline() {
    let cache = tempfile::tempdir().unwrap();
    let repo = cache.path().join("models--Org--Tiny");
    fs::create_dir_all(repo.join("blobs")).unwrap();
    fs::create_dir_all(repo.join("refs")).unwrap();
    fs::create_dir_all(repo.join(format!("snapshots/{COMMIT}"))).unwrap();
    fs::write(repo.join("blobs/abc123"), tiny_bytes()).unwrap();
    std::os::unix::fs::symlink(
        "../../blobs/abc123",
        repo.join(format!("snapshots/{COMMIT}/tokenizer.json")),
    )
    .unwrap();
    fs::write(repo.join("refs/main"), format!("{COMMIT}\n")).unwrap();
    let tok = load_repo(
        "Org/Tiny",
        &hub(cache.path(), "http://127.0.0.1:9", None, true),
    )
    .unwrap();
    assert_eq!(tok.id(), "Org/Tiny");
    assert_eq!(tok.encode("world").unwrap(), vec![1]);
    // A commit hash names its snapshot directly, without refs/.
    let direct = hf_cache::cached_file(cache.path(), "Org/Tiny", COMMIT, "tokenizer.json").unwrap();
    assert!(direct.ends_with(format!("snapshots/{COMMIT}/tokenizer.json")));
    // A snapshot link to a missing blob is a miss, not a broken load.
    fs::remove_file(repo.join("blobs/abc123")).unwrap();
    assert_eq!(
        hf_cache::cached_file(cache.path(), "Org/Tiny", "main", "tokenizer.json"),
        None
    );
}

#[test]
fn a_ref_to_a_missing_snapshot_is_a_miss() {
    let cache = tempfile::tempdir().unwrap();
    let refs = hf_cache::repo_dir(cache.path(), "Org/Tiny").join("refs");
    fs::create_dir_all(&refs).unwrap();
    fs::write(refs.join("main"), COMMIT).unwrap();
    assert_eq!(
        hf_cache::cached_file(cache.path(), "Org/Tiny", "main", "tokenizer.json"),
        None
    );
}

#[test]
fn store_writes_the_layout_without_leftovers_and_refuses_unsafe_commits() {
    let cache = tempfile::tempdir().unwrap();
    let path = hf_cache::store(
        cache.path(),
        "Org/Tiny",
        COMMIT,
        "tokenizer.json",
        &tiny_bytes(),
    )
    .unwrap();
    let repo = cache.path().join("models--Org--Tiny");
    assert_eq!(
        path,
        repo.join(format!("snapshots/{COMMIT}/tokenizer.json"))
    );
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), COMMIT);
    assert_eq!(fs::read(&path).unwrap(), tiny_bytes());
    let names: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("tokenizer.json")]);
    assert!(hf_cache::store(
        cache.path(),
        "Org/Tiny",
        "../escape",
        "tokenizer.json",
        b"{}"
    )
    .is_err());
    assert!(!cache.path().join("models--Org--Tiny/escape").exists());
}

#[test]
fn a_malformed_repo_id_is_a_user_error_before_any_request() {
    let cache = tempfile::tempdir().unwrap();
    let settings = hub(cache.path(), "http://127.0.0.1:9", None, false);
    let (category, message) = failure(load_repo("not a/repo id!", &settings), "not a/repo id!");
    assert_eq!(category, Category::User);
    assert!(
        message.contains("neither an existing file nor a Hugging Face repo id"),
        "{message}"
    );
}

#[test]
fn parsing_a_large_tokenizer_stops_at_the_deadline() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/qwen3/tokenizer.json");
    let spec = TokenizerSpec::File(path);
    let deadline = tinkex::Deadline::after(std::time::Duration::from_millis(5));
    let started = std::time::Instant::now();
    // No tokenizer cache: a warm one would load in time, and tests never touch the real home.
    let err =
        Tokenizer::load_with(&spec, &settings(&[]), &deadline, &Default::default()).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(err.category(), Category::Timeout, "{err}");
    assert!(
        err.to_string().starts_with("Failed to load tokenizer ")
            && err.to_string().contains("timed out"),
        "{err}"
    );
}
