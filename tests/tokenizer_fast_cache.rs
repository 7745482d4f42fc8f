//! The tokenizer cache under damage and contention: truncated, flipped, foreign or stale
//! files, a source changed in place, unwritable directories, concurrent builders.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use tinkex::tokenizer::fast::TOKENIZERS_VERSION;
use tinkex::tokenizer::{Tokenizer, TokenizerOptions};

use crate::support::tokenizer_fast::{assert_same, load_cached, trained_json, write_json, Split};

pub const TEXTS: &[&str] = &[
    "Hello, world! The quick brown fox.",
    "今天天气很好 😀 café <|im_start|>user\n  x  ",
    "snake_case camelCase 1234567 ...",
];

/// One trained byte-level tokenizer for the whole module (training is the slow part).
pub fn json() -> &'static Value {
    static JSON: OnceLock<Value> = OnceLock::new();
    JSON.get_or_init(|| trained_json(Split::ByteLevel, 700))
}

/// A source file and an empty cache directory in a fresh temp dir.
pub fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let source = write_json(tmp.path(), json());
    let cache = tmp.path().join("cache");
    (tmp, source, cache)
}

/// The files in `dir` whose extension is `ext` (`tkc` entries, `tkp` path records).
pub fn cache_files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|f| f.extension().is_some_and(|e| e == ext));
    files.sort();
    files
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// The only content entry in `dir`, which must hold exactly one entry and no temp files.
pub fn only_file(dir: &Path) -> PathBuf {
    let files = cache_files_with(dir, "tkc");
    assert_eq!(files.len(), 1, "cache dir holds {:?}", cache_files(dir));
    assert!(
        cache_files(dir)
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".tmp")),
        "temp files left: {:?}",
        cache_files(dir)
    );
    files[0].clone()
}

/// Whether the cache file holds the same tables as `good`.
fn same_body(file: &Path, good: &[u8]) -> bool {
    let now = fs::read(file).unwrap();
    now.len() == good.len() && now[128..] == good[128..]
}

/// Loads through the cache and checks the result against the full tokenizer.
pub fn check_load(source: &Path, cache: &Path) -> Tokenizer {
    let full = Tokenizer::from_file(source).unwrap();
    let fast = load_cached(source, cache);
    for text in TEXTS {
        assert_same(&full, &fast, text);
    }
    fast
}

#[test]
fn the_cache_is_built_once_then_reused() {
    let (_tmp, source, cache) = setup();
    assert!(check_load(&source, &cache).uses_fast_path());
    let file = only_file(&cache);
    let built = fs::read(&file).unwrap();
    let inode = inode(&file);
    assert!(check_load(&source, &cache).uses_fast_path());
    // A content entry is never rewritten: trusting the source's stat is the path
    // record's business, and a use only touches that record.
    assert_eq!(inode, self::inode(&file), "the entry was replaced");
    assert!(fs::read(&file).unwrap() == built, "the entry changed");
    assert_eq!(cache_files_with(&cache, "tkp").len(), 1);
}

#[cfg(unix)]
pub fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&fs::metadata(path).unwrap())
}

#[cfg(not(unix))]
fn inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

#[test]
fn a_truncated_cache_is_rebuilt() {
    let (_tmp, source, cache) = setup();
    check_load(&source, &cache);
    let file = only_file(&cache);
    let good = fs::read(&file).unwrap();
    for len in [0, 7, 100, 128, 136, good.len() / 2, good.len() - 1] {
        fs::write(&file, &good[..len]).unwrap();
        assert!(check_load(&source, &cache).uses_fast_path(), "length {len}");
        assert!(same_body(&file, &good), "not rebuilt after cut at {len}");
    }
}

#[test]
fn flipped_bytes_never_change_ids() {
    let (_tmp, source, cache) = setup();
    check_load(&source, &cache);
    let file = only_file(&cache);
    let good = fs::read(&file).unwrap();
    let positions = (0..128)
        .step_by(5)
        .chain((128..good.len()).step_by(good.len() / 24));
    for at in positions {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        fs::write(&file, &bad).unwrap();
        check_load(&source, &cache);
        if at >= 128 {
            assert!(same_body(&file, &good), "body byte {at} was not repaired");
        }
    }
}

#[test]
fn another_format_or_crate_version_or_a_foreign_file_is_rebuilt() {
    let (_tmp, source, cache) = setup();
    check_load(&source, &cache);
    let file = only_file(&cache);
    let good = fs::read(&file).unwrap();
    let mut newer_format = good.clone();
    newer_format[8] = newer_format[8].wrapping_add(1);
    let mut other_crate = good.clone();
    other_crate[16..32].copy_from_slice(b"0.99.0\0\0\0\0\0\0\0\0\0\0");
    let foreign = serde_json::to_vec(json()).unwrap();
    for bad in [newer_format, other_crate, foreign, vec![0xff; 4096]] {
        fs::write(&file, &bad).unwrap();
        assert!(check_load(&source, &cache).uses_fast_path());
        assert!(same_body(&file, &good), "not rebuilt");
    }
}

/// The same JSON with the ids of two same-width vocabulary entries swapped (same length).
pub fn swapped(json: &Value, a: &str, b: &str) -> Value {
    let mut json = json.clone();
    let vocab = json["model"]["vocab"].as_object_mut().unwrap();
    let (ia, ib) = (vocab[a].clone(), vocab[b].clone());
    vocab.insert(a.into(), ib);
    vocab.insert(b.into(), ia);
    json
}

#[test]
fn a_source_changed_in_place_with_the_same_size_and_mtime_is_noticed() {
    let (_tmp, source, cache) = setup();
    let before = check_load(&source, &cache).encode("e t").unwrap();
    let mtime = fs::metadata(&source).unwrap().modified().unwrap();
    let len = fs::metadata(&source).unwrap().len();
    // Two single-letter tokens with ids of the same width keep the file length.
    let changed = swapped(json(), "e", "t");
    fs::write(&source, serde_json::to_vec(&changed).unwrap()).unwrap();
    fs::File::options()
        .write(true)
        .open(&source)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(fs::metadata(&source).unwrap().len(), len);
    let after = check_load(&source, &cache).encode("e t").unwrap();
    assert_ne!(before, after, "the swap must change the ids");
}

#[test]
fn an_unwritable_cache_directory_means_no_cache_but_the_same_ids() {
    let (tmp, source, _) = setup();
    let blocker = tmp.path().join("not-a-dir");
    fs::write(&blocker, "a file where the cache directory should go").unwrap();
    let fast = check_load(&source, &blocker.join("cache"));
    assert!(fast.uses_fast_path());
    assert!(blocker.is_file());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let read_only = tmp.path().join("read-only");
        fs::create_dir(&read_only).unwrap();
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o555)).unwrap();
        check_load(&source, &read_only);
        let writable = fs::File::create(read_only.join("probe")).is_ok();
        if !writable {
            assert!(cache_files(&read_only).is_empty());
        }
    }
}

#[test]
fn no_cache_option_writes_nothing() {
    let (_tmp, source, cache) = setup();
    let tok = Tokenizer::from_file_with(&source, &TokenizerOptions::no_cache()).unwrap();
    assert!(!tok.uses_fast_path());
    assert!(!cache.exists());
}

#[test]
fn concurrent_builders_in_threads_leave_one_valid_file() {
    let (_tmp, source, cache) = setup();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| check_load(&source, &cache));
        }
    });
    let file = only_file(&cache);
    let built = fs::read(&file).unwrap();
    assert!(check_load(&source, &cache).uses_fast_path());
    assert!(same_body(&file, &built), "the stored file was not reused");
}

/// Run by `concurrent_builders_in_processes_…` in child processes; without the
/// variables it is not a child and does nothing (it is `#[ignore]`d for that reason).
#[test]
#[ignore = "helper run as a child process"]
fn child_process_loads_through_the_cache() {
    let (Ok(source), Ok(cache)) = (
        std::env::var("TINKEX_FAST_CHILD_SOURCE"),
        std::env::var("TINKEX_FAST_CHILD_CACHE"),
    ) else {
        return;
    };
    let tok = check_load(Path::new(&source), Path::new(&cache));
    println!("child ids {:?}", tok.encode(TEXTS[1]).unwrap());
}

#[test]
fn concurrent_builders_in_processes_leave_one_valid_file() {
    let (_tmp, source, cache) = setup();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["tokenizer_fast_cache::child_process_loads_through_the_cache"])
                .args(["--exact", "--ignored", "--nocapture", "--test-threads=1"])
                .env("TINKEX_FAST_CHILD_SOURCE", &source)
                .env("TINKEX_FAST_CHILD_CACHE", &cache)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let want = format!(
        "child ids {:?}",
        Tokenizer::from_file(&source)
            .unwrap()
            .encode(TEXTS[1])
            .unwrap()
    );
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&want), "child printed {stdout}");
    }
    only_file(&cache);
    assert!(check_load(&source, &cache).uses_fast_path());
}

#[test]
fn options_come_from_xdg_cache_home_then_home() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let xdg = TokenizerOptions::from_lookup(&lookup(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]));
    assert_eq!(xdg.cache_dir, Some(PathBuf::from("/x/tinkex/tokenizers")));
    let relative =
        TokenizerOptions::from_lookup(&lookup(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]));
    assert_eq!(
        relative.cache_dir,
        Some(PathBuf::from("/h/.cache/tinkex/tokenizers"))
    );
    let empty = TokenizerOptions::from_lookup(&lookup(&[("XDG_CACHE_HOME", " "), ("HOME", "/h")]));
    assert_eq!(
        empty.cache_dir,
        Some(PathBuf::from("/h/.cache/tinkex/tokenizers"))
    );
    assert_eq!(
        TokenizerOptions::from_lookup(&lookup(&[])),
        TokenizerOptions::no_cache()
    );
}

#[test]
fn the_recorded_tokenizers_version_is_the_locked_one() {
    let lock = fs::read_to_string("Cargo.lock").unwrap();
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"tokenizers\"\n"))
        .expect("tokenizers in Cargo.lock");
    assert!(
        entry.contains(&format!("version = \"{TOKENIZERS_VERSION}\"")),
        "bump format::TOKENIZERS_VERSION: {entry}"
    );
}
