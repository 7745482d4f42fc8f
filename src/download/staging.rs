//! The staging directory: files are written beside the destination and the whole directory
//! is renamed into place only when complete; any other ending removes it (a signal too).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::cleanup;
use crate::error::{Error, Result};

/// A directory being filled; dropped without [`Staging::commit`], it is removed.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    force: bool,
    committed: bool,
    _guard: cleanup::Guard,
}

impl Staging {
    /// Creates the staging directory beside `dest` (making `dest`'s parent if needed).
    /// An existing `dest` is the user's error unless `force`.
    pub fn create(dest: &Path, force: bool) -> Result<Staging> {
        refuse_existing(dest, force)?;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_else(|| "download".to_string());
        let dir = parent.join(format!(
            ".{name}.tinkex-{}-{:08x}.partial",
            std::process::id(),
            rand::random::<u32>()
        ));
        let guard = cleanup::register(&dir);
        std::fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Staging {
            dir,
            dest: dest.to_path_buf(),
            force,
            committed: false,
            _guard: guard,
        })
    }

    /// The staging directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the checked relative name `rel` is written, its parent directories made.
    pub fn file(&self, rel: &Path) -> Result<PathBuf> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        Ok(path)
    }

    /// Moves the complete directory into place. With `force`, an existing destination is
    /// swapped out atomically and removed only after the new one is in place.
    pub fn commit(mut self) -> Result<()> {
        let exists = self.dest.symlink_metadata().is_ok();
        if exists && !self.force {
            return Err(already_there(&self.dest));
        }
        let outcome = if exists {
            self.swap_in()
        } else {
            rename2(&self.dir, &self.dest, libc::RENAME_NOREPLACE)
                .or_else(|_| std::fs::rename(&self.dir, &self.dest))
        };
        outcome
            .map_err(|e| Error::io(format!("moving the download to {}", self.dest.display()), e))?;
        self.committed = !exists;
        Ok(())
    }

    /// Exchanges the staging directory with the old destination (a plain rename pair where
    /// the file system cannot exchange); the old content is then removed with the staging path.
    fn swap_in(&mut self) -> std::io::Result<()> {
        if rename2(&self.dir, &self.dest, libc::RENAME_EXCHANGE).is_ok() {
            return Ok(());
        }
        let aside = self.dir.with_extension("old");
        let _aside_guard = cleanup::register(&aside);
        std::fs::rename(&self.dest, &aside)?;
        if let Err(err) = std::fs::rename(&self.dir, &self.dest) {
            let _ = std::fs::rename(&aside, &self.dest);
            return Err(err);
        }
        remove(&aside);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            remove(&self.dir);
        }
    }
}

/// The error for an existing destination without `--force`.
pub fn already_there(dest: &Path) -> Error {
    Error::Input {
        message: format!("the destination {} already exists", dest.display()),
        hint: Some("pass --force to replace it once the new download is complete".to_string()),
    }
}

/// Fails when `dest` exists and `force` is not given (checked before any request).
pub fn refuse_existing(dest: &Path, force: bool) -> Result<()> {
    if !force && dest.symlink_metadata().is_ok() {
        return Err(already_there(dest));
    }
    Ok(())
}

/// Removes a file or a directory tree, never following links; failures are only logged.
fn remove(path: &Path) {
    let meta = match path.symlink_metadata() {
        Ok(meta) => meta,
        Err(_) => return,
    };
    let outcome = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    if let Err(err) = outcome {
        log::warn!("could not remove {}: {err}", path.display());
    }
}

/// `renameat2(2)` with `flags`.
fn rename2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    let from = CString::new(from.as_os_str().as_bytes())?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: two valid C strings relative to the working directory.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tinkex-staging-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn dropped_staging_leaves_nothing_and_commit_moves_into_place() {
        let root = scratch("a");
        let dest = root.join("ckpt");
        let staging = Staging::create(&dest, false).unwrap();
        std::fs::write(staging.file(Path::new("x/y")).unwrap(), b"1").unwrap();
        drop(staging);
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
        let staging = Staging::create(&dest, false).unwrap();
        std::fs::write(staging.file(Path::new("f")).unwrap(), b"2").unwrap();
        staging.commit().unwrap();
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"2");
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn force_keeps_the_old_destination_until_the_new_one_is_in_place() {
        let root = scratch("b");
        let dest = root.join("ckpt");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("old"), b"old").unwrap();
        assert_eq!(Staging::create(&dest, false).unwrap_err().exit_code(), 2);
        let staging = Staging::create(&dest, true).unwrap();
        std::fs::write(staging.file(Path::new("new")).unwrap(), b"new").unwrap();
        assert_eq!(std::fs::read(dest.join("old")).unwrap(), b"old");
        drop(staging);
        assert_eq!(std::fs::read(dest.join("old")).unwrap(), b"old");
        let staging = Staging::create(&dest, true).unwrap();
        std::fs::write(staging.file(Path::new("new")).unwrap(), b"new").unwrap();
        staging.commit().unwrap();
        assert!(!dest.join("old").exists());
        assert_eq!(std::fs::read(dest.join("new")).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
