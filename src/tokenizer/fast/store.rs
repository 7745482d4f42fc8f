//! Where cache files live, how a source file is recognised without reading it, and safe I/O.
//!
//! The cache directory is private (created 0700) and trusted only when the effective user
//! owns it; every file in it is opened without following symlinks and used only when that
//! user owns it too, so another account can neither plant nor swap an entry.
//!
//! Residual risk: an entry is memory-mapped after its length was checked on the open
//! descriptor, and tinkex never changes an entry in place (a new version is renamed over
//! it; eviction only unlinks), so a mapping never shrinks under tinkex's own hands. A
//! process of the same user (or root) truncating an entry while it is mapped would still
//! make the next read of the lost pages fault (SIGBUS); nothing short of copying the file
//! can prevent that, and such a process can already change tinkex's files at will.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_64;

use super::format::{self, SourceStat, FORMAT_VERSION, HEADER_LEN, TOKENIZERS_VERSION};
use super::table::Backing;
use crate::atomic::{self, Durability};

/// A source changed this recently may change again within one timestamp tick
/// unnoticed (the "racy git" problem), so its stat is not trusted and warm runs hash it.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// Entries larger than this are not mapped (no real tokenizer comes near it).
const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// Suffix of content entries (the tables of one tokenizer.json content).
pub const ENTRY_SUFFIX: &str = ".tkc";
/// Suffix of path records (which content a source path held when last seen).
pub const RECORD_SUFFIX: &str = ".tkp";

/// The path record for the tokenizer at `source`: one per source path and format.
pub fn record_file(dir: &Path, source: &Path) -> PathBuf {
    let key = format!(
        "{}\0{FORMAT_VERSION}\0{TOKENIZERS_VERSION}",
        canonical(source).display()
    );
    dir.join(format!("{:016x}{RECORD_SUFFIX}", xxh3_64(key.as_bytes())))
}

/// The content entry for a `tokenizer.json` whose xxh3-128 is `hash`, in this format.
pub fn entry_file(dir: &Path, hash: u128) -> PathBuf {
    dir.join(format!(
        "{hash:032x}-{FORMAT_VERSION}-{TOKENIZERS_VERSION}{ENTRY_SUFFIX}"
    ))
}

/// The absolute form of `source` (as given when it cannot be resolved).
pub fn canonical(source: &Path) -> PathBuf {
    fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf())
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

/// Whether the effective user owns what `meta` describes (always true off Unix).
pub fn owned(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        meta.uid() == unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Whether `dir` may be read as a cache: absent (nothing to read), or a directory we own.
pub fn dir_is_trusted(dir: &Path) -> bool {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() && owned(&meta) => true,
        Ok(_) => {
            log::debug!(
                "tokenizer cache {} ignored: not a directory owned by this user",
                dir.display()
            );
            false
        }
        Err(_) => true,
    }
}

/// Checks that `dir` may have files deleted from it: a real directory (not a symlink), owned
/// by this user and private (mode 0700). Clear and eviction delete by name, so a symlink to a
/// folder of the user's own files, or a directory others can write to, is refused.
pub fn check_private(dir: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    #[cfg(unix)]
    let private = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o077 == 0
    };
    #[cfg(not(unix))]
    let private = true;
    if meta.file_type().is_dir() && owned(&meta) && private {
        return Ok(());
    }
    let what = match () {
        _ if meta.file_type().is_symlink() => "it is a symbolic link",
        _ if !meta.is_dir() => "it is not a directory",
        _ if !owned(&meta) => "another user owns it",
        _ => "others may write to it (its mode is wider than 0700)",
    };
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("not a private tinkex cache directory: {what}"),
    ))
}

/// Whether the file at `path` starts as tinkex writes its cache files (an entry's or a path
/// record's magic bytes), read without following a symlink from a file we own.
pub fn has_cache_header(path: &Path) -> bool {
    let Some((file, len)) = open_owned(path) else {
        return false;
    };
    let mut magic = [0u8; 8];
    len >= 8
        && read_at(&file, &mut magic).is_ok()
        && (&magic == format::MAGIC || &magic == super::record::MAGIC)
}

/// Opens a cache file read-only: no symlinks, a regular file owned by us; else `None`.
pub fn open_owned(path: &Path) -> Option<(File, u64)> {
    let mut options = File::options();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let file = options.open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !owned(&meta) {
        log::debug!(
            "tokenizer cache file {} ignored: not a regular file owned by this user",
            path.display()
        );
        return None;
    }
    Some((file, meta.len()))
}

/// The cache entry at `path`, mapped read-only; `None` when absent, foreign, or truncated.
///
/// The length is checked on the open descriptor against the length the header declares
/// before anything is mapped, so a cut file is rebuilt instead of faulting on access.
pub fn map(path: &Path) -> Option<Backing> {
    let (file, len) = open_owned(path)?;
    let mut header = [0u8; HEADER_LEN];
    if len < HEADER_LEN as u64 || len > MAX_ENTRY_BYTES || read_at(&file, &mut header).is_err() {
        log::debug!("tokenizer cache {} is truncated", path.display());
        return None;
    }
    let declared = format::declared_len(&header)?;
    if declared != len {
        log::debug!(
            "tokenizer cache {} holds {len} bytes, its header declares {declared}",
            path.display()
        );
        return None;
    }
    // SAFETY: read-only mapping of a file we own, whose length was just checked on this
    // descriptor; see the module comment for the one remaining way it can fault.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    (map.len() as u64 == len).then_some(Backing::Mapped(map))
}

/// Fills `buf` from the start of `file`.
fn read_at(file: &File, buf: &mut [u8]) -> io::Result<()> {
    use std::io::Read;
    let mut reader = file;
    reader.read_exact(buf)
}

/// Creates the cache directory private to this user (0700); `Err` when it is not ours.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let meta = fs::metadata(dir)?;
    if !meta.is_dir() || !owned(&meta) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the cache directory is not owned by this user",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A directory left 0755 by an older tinkex is tightened on the next write.
        if meta.permissions().mode() & 0o077 != 0 {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
    }
    Ok(())
}

/// Writes `bytes` as the cache file `path`, creating its directory, atomically.
///
/// No fsync: every entry and record is length-checked and checksummed, so a write torn by
/// a crash is detected and rebuilt, and 9 MB of disk flush stays off the run's exit path.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    ensure_dir(path.parent().unwrap_or(Path::new(".")))?;
    atomic::write_bytes(path, bytes, Durability::Unsynced)
}

/// Marks `path` as used now (its mtime is the use time eviction orders by).
pub fn touch(path: &Path) {
    let touched = File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        log::debug!("tokenizer cache use not recorded ({}): {e}", path.display());
    }
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
    fn records_differ_by_source_path_and_entries_by_content() {
        let dir = Path::new("/cache");
        let a = record_file(dir, Path::new("/no/such/a/tokenizer.json"));
        let b = record_file(dir, Path::new("/no/such/b/tokenizer.json"));
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(dir));
        assert_eq!(a, record_file(dir, Path::new("/no/such/a/tokenizer.json")));
        assert_ne!(entry_file(dir, 1), entry_file(dir, 2));
        assert!(entry_file(dir, 1).to_string_lossy().ends_with(ENTRY_SUFFIX));
    }

    #[test]
    #[cfg(unix)]
    fn the_directory_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "an old 0755 directory is tightened");
    }

    #[test]
    #[cfg(unix)]
    fn symlinks_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::write(&real, vec![0u8; 256]).unwrap();
        let link = tmp.path().join("link.tkc");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(open_owned(&real).is_some());
        assert!(open_owned(&link).is_none());
    }
}
