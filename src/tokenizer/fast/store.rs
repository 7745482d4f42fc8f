//! Where cache files live, how a source file is recognised without reading it, and safe I/O.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_64;

use super::format::{SourceStat, FORMAT_VERSION, TOKENIZERS_VERSION};
use super::table::Backing;

/// A source changed this recently may change again within one timestamp tick
/// unnoticed (the "racy git" problem), so its stat is not trusted and warm runs hash it.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// The cache file for the tokenizer at `source`: one per source path and format.
pub fn cache_file(dir: &Path, source: &Path) -> PathBuf {
    let absolute = fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let key = format!(
        "{}\0{FORMAT_VERSION}\0{TOKENIZERS_VERSION}",
        absolute.display()
    );
    dir.join(format!("{:016x}.tkc", xxh3_64(key.as_bytes())))
}

/// The stat fields of `path` that change whenever its content does.
pub fn source_stat(path: &Path) -> io::Result<SourceStat> {
    let meta = fs::metadata(path)?;
    Ok(stat_of(&meta))
}

#[cfg(unix)]
fn stat_of(meta: &fs::Metadata) -> SourceStat {
    use std::os::unix::fs::MetadataExt;
    SourceStat {
        len: meta.len(),
        mtime: (meta.mtime(), meta.mtime_nsec() as u32),
        ctime: (meta.ctime(), meta.ctime_nsec() as u32),
        ino: meta.ino(),
        dev: meta.dev(),
    }
}

#[cfg(not(unix))]
fn stat_of(meta: &fs::Metadata) -> SourceStat {
    // Without ctime and inode the stat proves too little: such platforms always hash.
    SourceStat {
        len: meta.len(),
        ..SourceStat::default()
    }
}

/// Whether `stat` may stand in for hashing: a Unix stat of a file untouched for a while.
pub fn stat_is_trustworthy(stat: &SourceStat, now: SystemTime) -> bool {
    if cfg!(not(unix)) {
        return false;
    }
    let newest = stat.mtime.0.max(stat.ctime.0);
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    now - newest > RACY_WINDOW.as_secs() as i64
}

/// The cache file at `path`, mapped read-only; `None` when absent or unreadable.
pub fn map(path: &Path) -> Option<Backing> {
    let file = File::open(path).ok()?;
    // SAFETY: the mapping is read-only and tinkex never modifies a cache file in place
    // (new versions are written to a temporary file and renamed over it, which leaves
    // this inode untouched). Another program truncating it could still fault; every
    // read is bounds-checked against the length seen here and the body is checksummed,
    // which is the most a mapping can promise.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    Some(Backing::Mapped(map))
}

/// Writes `bytes` as the cache file `path`, creating its directory; temp file then rename.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    crate::tokenizer::cache::write_atomic(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_at(secs: i64) -> SourceStat {
        SourceStat {
            mtime: (secs - 100, 0),
            ctime: (secs, 0),
            ..SourceStat::default()
        }
    }

    #[test]
    #[cfg(unix)]
    fn a_freshly_changed_source_is_not_trusted_until_it_settles() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(!stat_is_trustworthy(&stat_at(1_000_000), now));
        assert!(!stat_is_trustworthy(&stat_at(999_999), now));
        assert!(stat_is_trustworthy(&stat_at(999_990), now));
    }

    #[test]
    fn cache_files_differ_by_source_path() {
        let dir = Path::new("/cache");
        let a = cache_file(dir, Path::new("/no/such/a/tokenizer.json"));
        let b = cache_file(dir, Path::new("/no/such/b/tokenizer.json"));
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(dir));
        assert_eq!(a, cache_file(dir, Path::new("/no/such/a/tokenizer.json")));
    }
}
