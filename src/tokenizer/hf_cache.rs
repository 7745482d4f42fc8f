//! The Hugging Face hub cache, laid out as Python lays it out: find a cached file, and add one.
//!
//! `models--ORG--NAME/refs/<revision>` holds a commit hash and
//! `models--ORG--NAME/snapshots/<hash>/<file>` the file. Python usually makes the
//! snapshot entry a symlink into `blobs/`; tinkex writes a plain file there
//! instead, which Python also reads (it does the same where symlinks are
//! unavailable), so no content hash has to be computed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::atomic::{self, Durability};

/// The cache directory of one model repository.
pub fn repo_dir(cache_dir: &Path, repo: &str) -> PathBuf {
    cache_dir.join(format!("models--{}", repo.replace('/', "--")))
}

/// Whether `revision` is a full commit hash, which names a snapshot directly.
pub fn is_commit_hash(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The cached `file` of `repo` at `revision` (a branch name or a commit hash), if present.
pub fn cached_file(cache_dir: &Path, repo: &str, revision: &str, file: &str) -> Option<PathBuf> {
    let dir = repo_dir(cache_dir, repo);
    let commit = if is_commit_hash(revision) {
        revision.to_string()
    } else {
        let text = fs::read_to_string(dir.join("refs").join(revision)).ok()?;
        let commit = text.trim().to_string();
        if !is_safe_component(&commit) {
            return None;
        }
        commit
    };
    let path = dir.join("snapshots").join(commit).join(file);
    // is_file follows symlinks, so a snapshot link to a missing blob counts as a miss.
    path.is_file().then_some(path)
}

/// Adds `file` of `repo` at `commit` to the cache and points `refs/main` at it.
///
/// Each file is written to a temporary name and renamed, and the ref is written
/// last, so a crash leaves either the old entry or the complete new one.
pub fn store(
    cache_dir: &Path,
    repo: &str,
    commit: &str,
    file: &str,
    bytes: &[u8],
) -> io::Result<PathBuf> {
    if !is_safe_component(commit) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the hub sent an unusable commit id {commit:?}"),
        ));
    }
    let dir = repo_dir(cache_dir, repo);
    let snapshot = dir.join("snapshots").join(commit);
    fs::create_dir_all(&snapshot)?;
    let path = snapshot.join(file);
    atomic::write_bytes(&path, bytes, Durability::Synced)?;
    let refs = dir.join("refs");
    fs::create_dir_all(&refs)?;
    // Python writes the hash without a trailing newline; so do we.
    atomic::write_bytes(&refs.join("main"), commit.as_bytes(), Durability::Synced)?;
    Ok(path)
}

/// A commit id from a header becomes a directory name: allow no separators or dot-names.
fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
