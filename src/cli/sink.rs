//! Where rendered output goes: stdout, or a file replaced atomically.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What happened when writing to stdout.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every byte was written.
    Complete,
    /// The reader went away (e.g. `| head`): not an error for a CLI.
    BrokenPipe,
}

/// Writes `bytes` to stdout and flushes.
pub fn to_stdout(bytes: &[u8]) -> Result<Delivery> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(Delivery::Complete),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Delivery::BrokenPipe),
        Err(e) => Err(Error::io("cannot write to stdout", e)),
    }
}

/// Replaces `path` with `bytes` atomically: a temp file beside it, synced, then renamed.
///
/// A failure at any step removes the temp file and leaves any existing file untouched. A
/// replaced file keeps its mode; a new one gets the default (0666 minus the umask).
pub fn to_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |out| out.write_all(bytes))
}

/// [`to_file_atomically`] with the content streamed by `fill`, so it need not fit in memory.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let context = |what: &str| format!("--output {}: cannot {what}", path.display());
    if path.is_dir() {
        return Err(Error::input(format!(
            "--output {}: is a directory",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(context("create its directory"), e))?;
    let temp = temp_path(&parent, path);
    let mode = fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    let registered = crate::cleanup::register(&temp);
    let written = write_synced(&temp, mode, fill).and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    drop(registered);
    written.map_err(|e| Error::io(context("write it"), e))?;
    sync_dir(&parent);
    Ok(())
}

/// Writes the temp file; when it replaces a file of mode `mode`, it is created 0600 (never
/// more open than the old file while it fills) and given that mode once complete.
fn write_synced(
    temp: &Path,
    mode: Option<u32>,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut options = File::options();
    options.write(true).create_new(true);
    if mode.is_some() {
        options.mode(0o600);
    }
    let mut out = io::BufWriter::new(options.open(temp)?);
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    if let Some(mode) = mode {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    file.sync_all()
}

/// Makes the rename durable: a crash right after it could otherwise bring the old file back.
/// Best effort: some file systems refuse to sync a directory, and the data is in place.
fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        log::debug!("cannot sync the directory {}: {e}", dir.display());
    }
}

fn temp_path(dir: &Path, target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(".{name}.tinkex-{}-{nanos}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_into_new_directories_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/out.txt");
        to_file_atomically(&target, b"hello\n").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"hello\n");
        let names: Vec<_> = fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
    }

    #[test]
    fn replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        fs::write(&target, "old").unwrap();
        to_file_atomically(&target, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn a_replaced_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        for mode in [0o600, 0o640, 0o755] {
            fs::write(&target, "old").unwrap();
            fs::set_permissions(&target, fs::Permissions::from_mode(mode)).unwrap();
            to_file_atomically(&target, b"new").unwrap();
            let kept = fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
            assert_eq!(kept, mode, "{mode:o}");
        }
    }

    #[test]
    fn a_directory_target_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = to_file_atomically(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().ends_with(": is a directory"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
