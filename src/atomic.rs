//! The one atomic file write: a temp file beside the target (tempfile), filled, then renamed
//! over it, so a reader sees the old file or the complete new one, never a part.
//!
//! The temp file is registered in [`crate::cleanup`] from before it exists until it is gone,
//! so a signal removes it; any failure removes it and leaves the old file untouched. A
//! replaced file keeps its mode; a new one gets the default (0666 minus the umask). Depends
//! only on `cleanup`, so every layer may use it.

use std::fs::{self, File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use tempfile::NamedTempFile;

/// How durable the write must be before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The file's data and the directory entry are synced (fsync): survives a power cut.
    Synced,
    /// No fsync: for caches whose every entry is checksummed, so a write torn by a crash is
    /// detected and rebuilt, and megabytes of disk flush stay off the run's exit path.
    Unsynced,
}

/// Replaces `path` with `bytes` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    write_with(path, durability, |out| out.write_all(bytes))
}

/// Replaces `path` with what `fill` writes, atomically; the content is streamed, so it need
/// not fit in memory. The directory must exist.
pub fn write_with(
    path: &Path,
    durability: Durability,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let kept_mode = fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    // Replacing a file: created 0600, never more open than the old file while it fills.
    let create_mode = if kept_mode.is_some() { 0o600 } else { 0o666 };
    let mut temp = create_registered(dir, path, create_mode)?;
    let mut out = BufWriter::new(temp.file.as_file_mut());
    fill(&mut out)?;
    out.flush()?;
    drop(out);
    if let Some(mode) = kept_mode {
        temp.file
            .as_file()
            .set_permissions(Permissions::from_mode(mode))?;
    }
    if durability == Durability::Synced {
        temp.file.as_file().sync_all()?;
    }
    // On failure the error holds the temp file, and dropping it removes the file.
    temp.file.persist(path).map_err(|e| e.error)?;
    if durability == Durability::Synced {
        sync_dir(dir);
    }
    Ok(())
}

/// The temp file and its cleanup registration. Fields drop in order: the file is removed
/// (when not persisted) before it is unregistered, so no moment leaves it unregistered.
struct Temp {
    file: NamedTempFile,
    _registered: crate::cleanup::Guard,
}

/// How many taken temp names are skipped (left by a killed process of the same pid) before
/// giving up.
const NAME_ATTEMPTS: usize = 8;

/// Creates the temp file beside `path`, registered for cleanup before it exists: a signal
/// between its creation and its registration would otherwise leave it behind. The name is
/// chosen here (pid and a counter, so it is known before the file is) and created with
/// O_EXCL by tempfile, which removes it again when dropped unpersisted.
fn create_registered(dir: &Path, path: &Path, mode: u32) -> io::Result<Temp> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut last = None;
    for _ in 0..NAME_ATTEMPTS {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(
            ".{}.{}.{n}.tinkex.tmp",
            name.as_deref().unwrap_or("file"),
            std::process::id()
        );
        let registered = crate::cleanup::register(&dir.join(&temp_name));
        let created = tempfile::Builder::new()
            .prefix(&temp_name)
            .rand_bytes(0)
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(dir);
        match created {
            Ok(file) => {
                return Ok(Temp {
                    file,
                    _registered: registered,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temp file name")))
}

/// Makes the rename durable: a crash right after it could otherwise bring the old file back.
/// Best effort: some file systems refuse to sync a directory, and the data is in place.
fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        log::debug!("cannot sync the directory {}: {e}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_a_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        for durability in [Durability::Synced, Durability::Unsynced] {
            fs::write(&target, "old").unwrap();
            write_bytes(&target, b"new", durability).unwrap();
            assert_eq!(fs::read_to_string(&target).unwrap(), "new");
            assert_eq!(names(dir.path()), ["out.txt"]);
        }
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_a_new_one_follows_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        for mode in [0o600, 0o640, 0o755] {
            fs::write(&target, "old").unwrap();
            fs::set_permissions(&target, Permissions::from_mode(mode)).unwrap();
            write_bytes(&target, b"new", Durability::Synced).unwrap();
            let kept = fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
            assert_eq!(kept, mode, "{mode:o}");
        }
        let fresh = dir.path().join("fresh.txt");
        fs::write(dir.path().join("plain.txt"), "x").unwrap();
        write_bytes(&fresh, b"x", Durability::Unsynced).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&fresh), mode(&dir.path().join("plain.txt")));
    }

    #[test]
    fn a_failing_fill_removes_the_temp_file_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        fs::write(&target, "old").unwrap();
        let err = write_with(&target, Durability::Synced, |out| {
            out.write_all(b"partial")?;
            Err(io::Error::other("source went away"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "source went away");
        assert_eq!(fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[test]
    fn the_temp_file_is_registered_for_signal_cleanup_while_it_fills() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        write_with(&target, Durability::Unsynced, |out| {
            let temp: Vec<String> = names(dir.path());
            assert_eq!(temp.len(), 1, "{temp:?}");
            let temp = dir.path().join(&temp[0]);
            assert!(crate::cleanup::is_registered(&temp), "{}", temp.display());
            out.write_all(b"x")
        })
        .unwrap();
        assert_eq!(names(dir.path()), ["out.txt"]);
    }
}
