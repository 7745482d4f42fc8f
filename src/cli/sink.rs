//! Where rendered output goes: stdout, or a file replaced atomically.

use std::fs::{self, File};
use std::io::{self, Write};
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
/// A failure at any step removes the temp file and leaves any existing file untouched.
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
    super::signals::set_pending_temp(Some(&temp));
    let written = write_synced(&temp, fill).and_then(|()| fs::rename(&temp, path));
    super::signals::set_pending_temp(None);
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(Error::io(context("write it"), e));
    }
    Ok(())
}

fn write_synced(
    temp: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = File::options().write(true).create_new(true).open(temp)?;
    let mut out = io::BufWriter::new(file);
    fill(&mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
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
    fn a_directory_target_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = to_file_atomically(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().ends_with(": is a directory"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
