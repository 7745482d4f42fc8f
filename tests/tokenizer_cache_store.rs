//! The tokenizer cache as a store: a private directory, foreign files ignored, content
//! entries shared by every path holding the same bytes, and a size cap kept by LRU eviction.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tinkex::tokenizer::fast;
use tinkex::tokenizer::{Tokenizer, TokenizerOptions};

use crate::support::tokenizer_fast::{assert_same, write_json};
use crate::tokenizer_fast_cache::{
    cache_files_with, check_load, inode, json, only_file, setup, swapped, TEXTS,
};

/// Loads `source` through `cache` with the size cap `cap`.
fn load_capped(source: &Path, cache: &Path, cap: Option<u64>) -> Tokenizer {
    let options = TokenizerOptions::with_cache_dir(cache).with_max_bytes(cap);
    Tokenizer::from_file_with(source, &options).expect("loads through the cache")
}

#[test]
#[cfg(unix)]
fn the_cache_directory_is_private_and_a_longer_entry_is_rebuilt() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, source, cache) = setup();
    check_load(&source, &cache);
    let mode = fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let file = only_file(&cache);
    let good = fs::read(&file).unwrap();
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 64]);
    fs::write(&file, &longer).unwrap();
    assert!(check_load(&source, &cache).uses_fast_path());
    assert_eq!(fs::read(&file).unwrap(), good, "not rebuilt");
}

/// Whether this process may give files away (only root can chown to another user).
#[cfg(unix)]
fn can_chown() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(unix)]
fn give_away(path: &Path) {
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
}

#[test]
#[cfg(unix)]
fn entries_and_records_of_another_user_are_ignored() {
    if !can_chown() {
        return; // needs root to create another user's file; CI containers run as root
    }
    let (_tmp, source, cache) = setup();
    check_load(&source, &cache);
    let entry = only_file(&cache);
    let record = cache_files_with(&cache, "tkp").remove(0);
    // A forged entry: valid in every byte, but another user's file.
    give_away(&entry);
    give_away(&record);
    let foreign_inode = inode(&entry);
    assert!(check_load(&source, &cache).uses_fast_path());
    let entry = only_file(&cache);
    assert_ne!(inode(&entry), foreign_inode, "the foreign entry was used");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&entry).unwrap().uid(), 0);
}

#[test]
#[cfg(unix)]
fn a_cache_directory_of_another_user_is_not_read_or_written() {
    if !can_chown() {
        return;
    }
    let (_tmp, source, cache) = setup();
    fs::create_dir_all(&cache).unwrap();
    give_away(&cache);
    assert!(check_load(&source, &cache).uses_fast_path());
    assert!(
        fs::read_dir(&cache).unwrap().next().is_none(),
        "wrote into it"
    );
}

/// `tokenizer.json` at `<hf_home>/hub/models--Org--Tiny/snapshots/<commit>/`.
fn hf_copy(hf_home: &Path, commit: &str) -> PathBuf {
    let dir = hf_home.join(format!("hub/models--Org--Tiny/snapshots/{commit}"));
    fs::create_dir_all(&dir).unwrap();
    write_json(&dir, json())
}

#[test]
fn a_second_hf_home_with_the_same_bytes_reuses_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let first = hf_copy(&tmp.path().join("hf1"), "aaaa");
    let second = hf_copy(&tmp.path().join("hf2"), "bbbb");
    check_load(&first, &cache);
    let entry = only_file(&cache);
    let (built, inode_before) = (fs::read(&entry).unwrap(), inode(&entry));
    let modified = fs::metadata(&entry).unwrap().modified().unwrap();
    assert!(check_load(&second, &cache).uses_fast_path());
    assert_eq!(only_file(&cache), entry, "a second content entry");
    assert_eq!(inode(&entry), inode_before, "the entry was rebuilt");
    assert_eq!(fs::metadata(&entry).unwrap().modified().unwrap(), modified);
    assert_eq!(fs::read(&entry).unwrap(), built);
    assert_eq!(
        cache_files_with(&cache, "tkp").len(),
        2,
        "one record per path"
    );
    let listing = fast::list(&cache).unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.entries[0].sources.len(), 2);
}

/// Sets the use time of the entry of `source` and of its records to `secs` ago.
fn age(cache: &Path, source: &Path, secs: u64) {
    let canonical = fs::canonicalize(source).unwrap();
    let entry = fast::list(cache)
        .unwrap()
        .entries
        .into_iter()
        .find(|e| e.sources.contains(&canonical))
        .expect("an entry for the source");
    let then = SystemTime::now() - Duration::from_secs(secs);
    for file in entry.records.iter().chain([&entry.path]) {
        let f = fs::File::options().append(true).open(file).unwrap();
        f.set_modified(then).unwrap();
    }
}

#[test]
fn the_cap_evicts_least_recently_used_entries_while_a_mapped_one_keeps_working() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let variants = [("e", "t"), ("a", "o"), ("i", "n"), ("s", "r")];
    let sources: Vec<PathBuf> = variants
        .iter()
        .enumerate()
        .map(|(i, (a, b))| {
            let dir = tmp.path().join(format!("src{i}"));
            fs::create_dir_all(&dir).unwrap();
            write_json(&dir, &swapped(json(), a, b))
        })
        .collect();
    for source in &sources[..3] {
        load_capped(source, &cache, None);
    }
    // The oldest entry is held mapped, as a long-lived server would.
    let mapped = load_capped(&sources[0], &cache, None);
    assert!(mapped.uses_fast_path());
    for (i, source) in sources[..3].iter().enumerate() {
        age(&cache, source, 3000 - 1000 * i as u64);
    }
    let entry_size = fs::metadata(only_entry_of(&cache, &sources[2]))
        .unwrap()
        .len();
    // Room for two entries and their records: the fourth build must evict the two oldest.
    let cap = 2 * entry_size + 4096;
    load_capped(&sources[3], &cache, Some(cap));
    let listing = fast::list(&cache).unwrap();
    let left: Vec<&PathBuf> = listing.entries.iter().flat_map(|e| &e.sources).collect();
    let canonical = |i: usize| fs::canonicalize(&sources[i]).unwrap();
    assert_eq!(left, [&canonical(2), &canonical(3)], "LRU order");
    assert!(listing.total <= cap);
    assert_eq!(cache_files_with(&cache, "tkp").len(), 2, "records went too");
    let full = Tokenizer::from_file(&sources[0]).unwrap();
    for text in TEXTS {
        assert_same(&full, &mapped, text);
    }
    // The evicted tokenizer is rebuilt on its next use.
    assert!(check_load(&sources[0], &cache).uses_fast_path());
}

/// The entry file recorded for `source`.
fn only_entry_of(cache: &Path, source: &Path) -> PathBuf {
    let canonical = fs::canonicalize(source).unwrap();
    fast::list(cache)
        .unwrap()
        .entries
        .into_iter()
        .find(|e| e.sources.contains(&canonical))
        .expect("entry")
        .path
}

#[test]
fn clear_empties_the_cache() {
    let (_tmp, source, cache) = setup();
    check_load(&source, &cache);
    let total = fast::list(&cache).unwrap().total;
    assert_eq!(fast::clear(&cache).unwrap(), (2, total));
    assert_eq!(fast::list(&cache).unwrap().total, 0);
    assert!(check_load(&source, &cache).uses_fast_path());
}
