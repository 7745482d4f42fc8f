//! Where rendered output goes: stdout, or a file replaced atomically.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::atomic::{self, Durability};
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

/// Replaces `path` with `bytes` atomically (see [`crate::atomic`]), creating its directory.
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
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::io(context("create its directory"), e))?;
    }
    atomic::write_with(path, Durability::Synced, fill)
        .map_err(|e| Error::io(context("write it"), e))
}

/// Checks before any request that `path` can take the output: not a directory, its folder
/// made (as the write would) and not read-only, so a paid sample is never lost to a typo.
pub fn check_writable(path: &Path) -> Result<()> {
    let context = |what: &str| format!("--output {}: cannot {what}", path.display());
    if path.is_dir() {
        return Err(Error::input(format!(
            "--output {}: is a directory",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| Error::io(context("create its directory"), e))?;
    let meta = fs::metadata(dir).map_err(|e| Error::io(context("read its directory"), e))?;
    if meta.permissions().readonly() {
        return Err(Error::input(format!(
            "--output {}: its directory is read-only",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
    fn unwritable_targets_are_found_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(dir.path()).is_err());
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        let err = check_writable(&file.join("out.json")).unwrap_err();
        assert!(
            err.to_string().contains("cannot create its directory"),
            "{err}"
        );
        check_writable(&dir.path().join("new/out.json")).unwrap();
        let locked = dir.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
        let err = check_writable(&locked.join("out.json")).unwrap_err();
        assert!(
            err.to_string().ends_with("its directory is read-only"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_target_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = to_file_atomically(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().ends_with(": is a directory"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
