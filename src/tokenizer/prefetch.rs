//! `tinkex prefetch`: puts everything a run needs for a tokenizer on disk ahead of time —
//! the hub files in the Hugging Face cache and the fast-path entry in tinkex's cache — so
//! an image build or an air-gapped host can run `tinkex run --offline` later.

use std::path::PathBuf;

use super::{
    fast, hf_cache, repo_file, HubRetry, HubSettings, Tokenizer, TokenizerOptions, TokenizerSpec,
    TOKENIZER_FILE,
};
use crate::deadline::Deadline;
use crate::error::{Category, Result};
use crate::image::PREPROCESSOR_FILE;
use crate::repo_files::{CONFIG_FILE, TEMPLATE_FILE, TEMPLATE_JSON_FILE};

/// Where one file of a tokenizer ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// On disk at this path.
    Stored(PathBuf),
    /// The repository has no such file (a run does without it).
    Absent,
    /// Loaded, but the hub named no commit, so it could not be cached.
    NotCached,
}

/// What prefetching one tokenizer left where.
#[derive(Debug, Clone)]
pub struct Prefetched {
    /// The tokenizer as asked for (repo id or path).
    pub id: String,
    /// `tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`, `chat_template.json`
    /// and `preprocessor_config.json` (vision models), in that order.
    pub files: Vec<(&'static str, Place)>,
    /// The fast-path cache entry and its size, when the tokenizer has one.
    pub entry: Option<(PathBuf, u64)>,
    /// Whether runs encode on the fast path (false: this tokenizer needs the full one).
    pub fast_path: bool,
}

/// Fetches `spec`'s files as a run would and builds its cache entry.
pub fn prefetch(
    spec: &TokenizerSpec,
    hub: &HubSettings,
    deadline: &Deadline,
    retry: &HubRetry,
    options: &TokenizerOptions,
) -> Result<Prefetched> {
    let tokenizer = Tokenizer::load_with_options(spec, hub, deadline, retry, options)?;
    let source = local_file(spec, hub, TOKENIZER_FILE);
    let mut files = vec![(TOKENIZER_FILE, place(source.clone(), true))];
    for file in [
        CONFIG_FILE,
        TEMPLATE_FILE,
        TEMPLATE_JSON_FILE,
        PREPROCESSOR_FILE,
    ] {
        let found = repo_file(spec, file, hub, deadline, retry)?.is_some();
        files.push((file, place(local_file(spec, hub, file), found)));
    }
    // A prefetch exists to leave files on disk: fetched but not cached is a failed prefetch
    // (the hub's fault, exit 4), never a quiet success that a later --offline run trips on.
    if let Some((file, _)) = files.iter().find(|(_, p)| *p == Place::NotCached) {
        return Err(super::tokenizer_error(
            &spec.id(),
            Category::Server,
            format!("the hub named no usable commit (x-repo-commit) for {file}, so it could not be cached for later runs"),
        ));
    }
    let entry = match (&options.cache_dir, &source) {
        (Some(dir), Some(source)) => fast::entry_for(dir, source),
        _ => None,
    };
    Ok(Prefetched {
        id: spec.id(),
        files,
        entry,
        fast_path: tokenizer.uses_fast_path(),
    })
}

/// The on-disk copy of `file` a later run would read, if any.
fn local_file(spec: &TokenizerSpec, hub: &HubSettings, file: &str) -> Option<PathBuf> {
    match spec {
        TokenizerSpec::File(path) if file == TOKENIZER_FILE => path.is_file().then(|| path.clone()),
        TokenizerSpec::File(path) => {
            let path = path.parent().unwrap_or(std::path::Path::new("")).join(file);
            path.is_file().then_some(path)
        }
        TokenizerSpec::Repo(repo) => hf_cache::cached_file(&hub.cache_dir, repo, "main", file),
    }
}

fn place(path: Option<PathBuf>, found: bool) -> Place {
    match (path, found) {
        (Some(path), _) => Place::Stored(path),
        (None, true) => Place::NotCached,
        (None, false) => Place::Absent,
    }
}
