//! Tokenizer files of a hub repository: from the cache shared with Python, else downloaded
//! (checked first) into it.

use std::path::Path;

use super::{
    hf_cache, hub, tokenizer_error, HubRetry, HubSettings, Tokenizer, TokenizerOptions,
    TokenizerSpec, TOKENIZER_FILE,
};
use crate::atomic::{self, Durability};
use crate::deadline::Deadline;
use crate::error::{Category, Error, Result};

/// Hub repo ids: `name` or `org/name`, letters, digits, `-`, `_` and `.`.
fn is_valid_repo_id(repo: &str) -> bool {
    let parts: Vec<&str> = repo.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

/// Cache first, then (unless offline) the hub; a download is checked before it enters the cache.
pub(super) fn load_repo(
    repo: &str,
    hub: &HubSettings,
    deadline: &Deadline,
    retry: &HubRetry,
    options: &TokenizerOptions,
) -> Result<Tokenizer> {
    if !is_valid_repo_id(repo) {
        let reason =
            format!("{repo:?} is neither an existing file nor a Hugging Face repo id (ORG/NAME)");
        return Err(tokenizer_error(repo, Category::User, reason));
    }
    if let Some(path) = hf_cache::cached_file(&hub.cache_dir, repo, "main", TOKENIZER_FILE) {
        log::debug!("tokenizer {repo} from the cache: {}", path.display());
        return Tokenizer::from_path(repo, &path, options);
    }
    if hub.offline {
        let reason = format!(
            "{TOKENIZER_FILE} is not in the Hugging Face cache ({}) and offline mode (HF_HUB_OFFLINE=1 or --offline) forbids downloading it",
            hub.cache_dir.display()
        );
        return Err(tokenizer_error(repo, Category::User, reason));
    }
    let downloaded = hub::download(repo, repo, TOKENIZER_FILE, hub, deadline, retry)?;
    let source = format!("the {TOKENIZER_FILE} downloaded from {}", hub.endpoint);
    // Checked before it enters the cache, so a bad download never poisons later runs.
    let tokenizer = Tokenizer::from_bytes(repo, &downloaded.bytes, &source)?;
    let Some(commit) = downloaded.commit else {
        log::warn!("the hub sent no x-repo-commit for {repo}; its tokenizer was not cached");
        return Ok(tokenizer);
    };
    match hf_cache::store(
        &hub.cache_dir,
        repo,
        &commit,
        TOKENIZER_FILE,
        &downloaded.bytes,
    ) {
        Ok(path) => {
            log::debug!("cached tokenizer {repo} at {}", path.display());
            if options.cache_dir.is_some() {
                // Through the fast cache, so the next run (or a prefetch) starts warm.
                drop(tokenizer);
                return Tokenizer::from_path(repo, &path, options);
            }
        }
        Err(e) => log::warn!(
            "could not cache tokenizer {repo} in {}: {e}",
            hub.cache_dir.display()
        ),
    }
    Ok(tokenizer)
}

/// An extra file of a tokenizer's repository (chat mode reads `tokenizer_config.json` and
/// `chat_template.jinja`), with where it was found.
#[derive(Debug, Clone)]
pub struct RepoFile {
    /// A path, or the hub URL it was downloaded from.
    pub origin: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Finds `file` where `spec`'s `tokenizer.json` is found: beside the file, in the HF cache,
/// else on the hub (then cached). `Ok(None)` when the repository has no such file; a miss is
/// remembered in the cache's `.no_exist/<commit>/` as Python's hub client does.
pub fn repo_file(
    spec: &TokenizerSpec,
    file: &str,
    hub: &HubSettings,
    deadline: &Deadline,
    retry: &HubRetry,
) -> Result<Option<RepoFile>> {
    let repo = match spec {
        TokenizerSpec::File(path) => {
            let path = path.parent().unwrap_or(Path::new("")).join(file);
            return match path.exists() {
                true => read_repo_file(&path).map(Some),
                false => Ok(None),
            };
        }
        TokenizerSpec::Repo(repo) => repo,
    };
    if let Some(path) = hf_cache::cached_file(&hub.cache_dir, repo, "main", file) {
        return read_repo_file(&path).map(Some);
    }
    let repo_dir = hf_cache::repo_dir(&hub.cache_dir, repo);
    let commit = std::fs::read_to_string(repo_dir.join("refs/main")).unwrap_or_default();
    let commit = commit.trim();
    let no_exist = hf_cache::is_commit_hash(commit)
        .then(|| repo_dir.join(".no_exist").join(commit).join(file));
    if hub.offline || no_exist.as_ref().is_some_and(|p| p.exists()) {
        return Ok(None);
    }
    match hub::download(repo, repo, file, hub, deadline, retry) {
        Ok(downloaded) => Ok(Some(keep_download(repo, file, hub, downloaded))),
        // The hub's "no such file" answer; any other failure is reported.
        Err(Error::Tokenizer { reason, .. })
            if reason.contains(&format!("has no {file} at revision main")) =>
        {
            if let Some(marker) = no_exist {
                let _ = marker.parent().map(std::fs::create_dir_all);
                let _ = atomic::write_bytes(&marker, b"", Durability::Synced);
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Caches a downloaded repository file (when the hub named its commit) and returns it.
fn keep_download(
    repo: &str,
    file: &str,
    hub: &HubSettings,
    downloaded: hub::Downloaded,
) -> RepoFile {
    if let Some(commit) = &downloaded.commit {
        if let Err(e) = hf_cache::store(&hub.cache_dir, repo, commit, file, &downloaded.bytes) {
            log::warn!("could not cache {file} of {repo}: {e}");
        }
    }
    RepoFile {
        origin: format!("{}/{repo}/resolve/main/{file}", hub.endpoint),
        bytes: downloaded.bytes,
    }
}

fn read_repo_file(path: &Path) -> Result<RepoFile> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    Ok(RepoFile {
        origin: path.display().to_string(),
        bytes,
    })
}
