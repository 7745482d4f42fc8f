//! The cache's contents and its size cap: list entries with their sources and last use,
//! evict the least recently used ones, or empty the cache.
//!
//! Only a private directory (not a symlink, ours, mode 0700) is listed, and only files whose
//! first bytes are a cache file's magic count as the cache's: clear and eviction never delete
//! a file for its name alone.
//!
//! Eviction only ever unlinks. A process that has an entry mapped keeps reading the
//! unlinked inode; one that opens it a moment later finds it gone and rebuilds it. Two
//! processes evicting at once each unlink what they chose and ignore files already
//! gone; a writer renaming a fresh entry in meanwhile has the newest use time, so it is
//! the last candidate.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::record;
use super::store::{self, ENTRY_SUFFIX, RECORD_SUFFIX};

/// Temp files older than this are leftovers of a killed writer, safe to remove.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// One content entry and what uses it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry file.
    pub path: PathBuf,
    /// Its size in bytes, plus the records pointing at it.
    pub bytes: u64,
    /// The latest use: the newest mtime of the entry and its records.
    pub last_use: SystemTime,
    /// The source paths recorded for it (empty for an entry of an older format).
    pub sources: Vec<PathBuf>,
    /// The path records pointing at it.
    pub records: Vec<PathBuf>,
}

/// Everything in a cache directory that tinkex put there.
#[derive(Debug, Default)]
pub struct Listing {
    /// Content entries, least recently used first.
    pub entries: Vec<Entry>,
    /// Records whose entry is gone, and temp files; counted in `total`.
    pub loose: Vec<(PathBuf, u64, SystemTime)>,
    /// Bytes of all of it.
    pub total: u64,
}

/// Lists the cache in `dir` (an absent directory is empty); files not ours are skipped.
pub fn list(dir: &Path) -> io::Result<Listing> {
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut records = Vec::new();
    let mut loose = Vec::new();
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Listing::default()),
        Err(e) => return Err(e),
    };
    // Checked before anything is trusted: clear and eviction delete what this lists.
    store::check_private(dir)?;
    for item in read.flatten() {
        let path = item.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue; // evicted by another process meanwhile
        };
        let name = item.file_name().to_string_lossy().into_owned();
        // A name is not proof: only a file of ours that starts as a cache file is one.
        if !meta.is_file() || !store::owned(&meta) || !store::has_cache_header(&path) {
            continue;
        }
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if name.ends_with(ENTRY_SUFFIX) && !name.starts_with('.') {
            let entry = Entry {
                path,
                bytes: meta.len(),
                last_use: used,
                sources: Vec::new(),
                records: Vec::new(),
            };
            entries.insert(name, entry);
        } else if name.ends_with(RECORD_SUFFIX) && !name.starts_with('.') {
            records.push((path, meta.len(), used));
        } else if name.starts_with('.') && name.ends_with(".tmp") {
            loose.push((path, meta.len(), used));
        }
    }
    for (path, bytes, used) in records {
        let target = record::read(&path).and_then(|r| {
            let name = store::entry_file(Path::new(""), r.hash);
            Some((name.to_str()?.to_owned(), r.source))
        });
        match target.and_then(|(name, source)| Some((entries.get_mut(&name)?, source))) {
            Some((entry, source)) => {
                entry.bytes += bytes;
                entry.last_use = entry.last_use.max(used);
                entry.sources.push(source);
                entry.records.push(path);
            }
            None => loose.push((path, bytes, used)),
        }
    }
    let mut entries: Vec<Entry> = entries.into_values().collect();
    entries.sort_by(|a, b| (a.last_use, &a.path).cmp(&(b.last_use, &b.path)));
    let total = entries.iter().map(|e| e.bytes).sum::<u64>()
        + loose.iter().map(|(_, bytes, _)| bytes).sum::<u64>();
    Ok(Listing {
        entries,
        loose,
        total,
    })
}

/// Evicts least recently used entries until `dir` holds at most `cap` bytes.
///
/// `keep` (the entry just used) is never evicted, even alone over the cap: the run that
/// wrote it should not have built it for nothing. Returns the entries removed.
pub fn enforce(dir: &Path, cap: u64, keep: &Path) -> io::Result<Vec<PathBuf>> {
    let listing = list(dir)?;
    let mut total = listing.total;
    let now = SystemTime::now();
    for (path, bytes, used) in &listing.loose {
        let age = now.duration_since(*used).unwrap_or_default();
        // A record without its entry may be a writer's between its two renames: give it time.
        if age > STALE_TEMP && remove(path) {
            total = total.saturating_sub(*bytes);
        }
    }
    let mut evicted = Vec::new();
    for entry in listing.entries {
        if total <= cap {
            break;
        }
        if entry.path == keep {
            continue;
        }
        // Records first: a reader then re-hashes and rebuilds rather than finding a record
        // that points at nothing.
        for record in &entry.records {
            remove(record);
        }
        remove(&entry.path);
        log::debug!("tokenizer cache evicted {}", entry.path.display());
        total = total.saturating_sub(entry.bytes);
        evicted.push(entry.path);
    }
    Ok(evicted)
}

/// Removes every entry, record and temp file of the cache in `dir`; returns (files, bytes).
pub fn clear(dir: &Path) -> io::Result<(usize, u64)> {
    let listing = list(dir)?;
    let mut files = 0;
    for entry in &listing.entries {
        files += entry.records.iter().filter(|r| remove(r)).count();
        files += usize::from(remove(&entry.path));
    }
    files += listing.loose.iter().filter(|(p, _, _)| remove(p)).count();
    Ok((files, listing.total))
}

/// Unlinks `path`; true when it was removed here (gone already is not an error).
fn remove(path: &Path) -> bool {
    match fs::remove_file(path) {
        Ok(()) => true,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                log::debug!("tokenizer cache: cannot remove {}: {e}", path.display());
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes that starts as a cache entry does.
    fn file(dir: &Path, name: &str, len: usize, age_secs: u64) -> PathBuf {
        let path = dir.join(name);
        let mut bytes = vec![0u8; len.max(8)];
        bytes[..8].copy_from_slice(super::super::format::MAGIC);
        fs::write(&path, &bytes[..len.max(8)]).unwrap();
        let then = SystemTime::now() - Duration::from_secs(age_secs);
        fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(then)
            .unwrap();
        path
    }

    #[test]
    fn eviction_goes_oldest_first_keeps_the_new_entry_and_young_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().join("cache");
        super::super::store::ensure_dir(dir).unwrap();
        let old = file(dir, "a.tkc", 1000, 300);
        let mid = file(dir, "b.tkc", 1000, 200);
        let new = file(dir, "c.tkc", 1000, 100);
        let kept = file(dir, "d.tkc", 5000, 400);
        let stale = file(dir, ".x.tkc.1.0.tmp", 10, 7200);
        let young = file(dir, ".y.tkc.1.0.tmp", 10, 5);
        // A user's file with a cache-like name but not a cache file's first bytes.
        let named_alike = dir.join("mine.tkc");
        fs::write(&named_alike, b"my own notes, not a cache entry").unwrap();
        let other = file(dir, "notes.txt", 10, 9000);
        let evicted = enforce(dir, 6100, &kept).unwrap();
        assert_eq!(evicted, [old, mid]);
        for path in [&new, &kept, &young, &other, &named_alike] {
            assert!(path.exists(), "{} went", path.display());
        }
        assert!(!stale.exists());
        let listing = list(dir).unwrap();
        assert_eq!(
            listing.total, 6010,
            "entries and temp files count, foreign names do not"
        );
        assert_eq!(clear(dir).unwrap(), (3, 6010));
        assert!(
            other.exists() && named_alike.exists(),
            "clear leaves files that are not the cache's"
        );
    }

    #[test]
    #[cfg(unix)]
    fn a_symlinked_or_shared_directory_is_never_cleared_or_evicted() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        // The user's own folder, holding files that look like the cache's, even inside.
        let theirs = tmp.path().join("photos");
        fs::create_dir(&theirs).unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
        let files = [
            file(&theirs, "a.tkc", 100, 9000),
            file(&theirs, "b.tkp", 100, 9000),
            file(&theirs, ".c.tmp", 100, 9000),
        ];
        let link = tmp.path().join("tokenizers");
        std::os::unix::fs::symlink(&theirs, &link).unwrap();
        let refused = clear(&link).unwrap_err();
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        assert!(enforce(&link, 0, Path::new("")).is_err());
        assert!(list(&link).is_err());
        // A directory others may write to is refused as well.
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o755)).unwrap();
        let refused = clear(&theirs).unwrap_err();
        assert!(refused.to_string().contains("0700"), "{refused}");
        assert!(files.iter().all(|f| f.exists()), "a file was deleted");
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            clear(&theirs).unwrap().0,
            3,
            "the same files in a private dir are ours"
        );
    }
}
