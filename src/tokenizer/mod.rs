//! The tokenizer layer: which Hugging Face tokenizer a model uses, where it comes from
//! (a file, the cache shared with Python, or the hub), and text ↔ token ids.

pub mod cache;
pub mod fast;
pub mod hub;
pub mod prefetch;
pub mod settings;

use std::path::{Path, PathBuf};

pub use fast::TokenizerOptions;
pub use hub::HubRetry;
pub use settings::HubSettings;

use crate::deadline::Deadline;
use crate::error::{Category, Error, Result};

/// The file every supported tokenizer comes in.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// The repo whose tokenizer every Llama 3 model uses (the SDK's rule).
const LLAMA3_TOKENIZER: &str = "thinkingmachineslabinc/meta-llama-3-instruct-tokenizer";

/// The Hugging Face repo holding the tokenizer of `model`, by the SDK's rules.
pub fn tokenizer_id_for_model(model: &str) -> String {
    let model = model.split(':').next().unwrap_or(model);
    if model.starts_with("meta-llama/Llama-3") {
        return LLAMA3_TOKENIZER.to_string();
    }
    let mut parts = model.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(name), Some(_variant)) => format!("{org}/{name}"),
        _ => model.to_string(),
    }
}

/// What `--tokenizer` (or the model) names: a local `tokenizer.json` or a hub repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSpec {
    /// A `tokenizer.json` on disk.
    File(PathBuf),
    /// A Hugging Face repo id such as `Qwen/Qwen3-8B`.
    Repo(String),
}

impl TokenizerSpec {
    /// A path when `arg` exists or starts with `.`, `/` or `~`; otherwise a repo id.
    pub fn parse(arg: &str) -> TokenizerSpec {
        TokenizerSpec::parse_with_home(arg, std::env::var("HOME").ok().as_deref())
    }

    /// [`TokenizerSpec::parse`] with `~` expanded to `home` (tests pass their own).
    pub fn parse_with_home(arg: &str, home: Option<&str>) -> TokenizerSpec {
        let looks_like_path = arg.starts_with(['.', '/', '~']);
        if !looks_like_path && !Path::new(arg).exists() {
            return TokenizerSpec::Repo(arg.to_string());
        }
        let path = settings::expand_home(arg, home);
        if path.is_dir() {
            TokenizerSpec::File(path.join(TOKENIZER_FILE))
        } else {
            TokenizerSpec::File(path)
        }
    }

    /// The spec as the user would recognise it, for messages.
    pub fn id(&self) -> String {
        match self {
            TokenizerSpec::File(path) => path.display().to_string(),
            TokenizerSpec::Repo(repo) => repo.clone(),
        }
    }
}

/// A loaded tokenizer; cheap to share between threads.
pub struct Tokenizer {
    inner: fast::Loaded,
    id: String,
    vocab_size: usize,
    special_ids: Vec<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("id", &self.id)
            .field("vocab_size", &self.vocab_size)
            .field("fast_path", &self.uses_fast_path())
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$t` bound to whichever tokenizer (fast or full) is loaded.
macro_rules! with_inner {
    ($loaded:expr, $t:ident => $body:expr) => {
        match $loaded {
            fast::Loaded::Fast($t) => $body,
            fast::Loaded::Full($t) => $body,
        }
    };
}

impl Tokenizer {
    /// Loads `spec`: a file as is; a repo from the cache, else from the hub (unless offline).
    ///
    /// Uses the fast-path cache where the environment puts it ([`TokenizerOptions::from_env`]).
    pub fn load(spec: &TokenizerSpec, hub: &HubSettings, deadline: &Deadline) -> Result<Tokenizer> {
        let options = TokenizerOptions::from_env();
        Tokenizer::load_with_options(spec, hub, deadline, &HubRetry::default(), &options)
    }

    /// [`Tokenizer::load`] with explicit download retries (tests shorten the back-off), no cache.
    pub fn load_with(
        spec: &TokenizerSpec,
        hub: &HubSettings,
        deadline: &Deadline,
        retry: &HubRetry,
    ) -> Result<Tokenizer> {
        let options = TokenizerOptions::no_cache();
        Tokenizer::load_with_options(spec, hub, deadline, retry, &options)
    }

    /// [`Tokenizer::load`] with explicit retries and cache options.
    pub fn load_with_options(
        spec: &TokenizerSpec,
        hub: &HubSettings,
        deadline: &Deadline,
        retry: &HubRetry,
        options: &TokenizerOptions,
    ) -> Result<Tokenizer> {
        // Parsing a large tokenizer.json (a cold cache, a debug build, a busy machine) is
        // seconds of CPU that cannot be interrupted: it runs on a thread so the deadline holds.
        let (tx, rx) = std::sync::mpsc::channel();
        let (spec2, hub2, deadline2, retry2, options2) = (
            spec.clone(),
            hub.clone(),
            *deadline,
            retry.clone(),
            options.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("tinkex-tokenizer".to_string())
            .spawn(move || {
                let _ = tx.send(match &spec2 {
                    TokenizerSpec::File(path) => Tokenizer::from_file_with(path, &options2),
                    TokenizerSpec::Repo(repo) => {
                        load_repo(repo, &hub2, &deadline2, &retry2, &options2)
                    }
                });
            });
        if let Err(err) = spawned {
            return Err(Error::Unexpected(format!(
                "could not start a thread: {err}"
            )));
        }
        // The grace lets the loader's own deadline error (which names the step) win.
        match rx.recv_timeout(deadline.remaining() + std::time::Duration::from_millis(300)) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(tokenizer_error(
                &spec.id(),
                Category::Timeout,
                format!(
                    "timed out after {:.0} s while loading it",
                    deadline.total().as_secs_f64()
                ),
            )),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Unexpected(
                format!("loading tokenizer {} ended without a result", spec.id()),
            )),
        }
    }

    /// Loads a `tokenizer.json` file, without the cache.
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        Tokenizer::from_file_with(path, &TokenizerOptions::no_cache())
    }

    /// Loads a `tokenizer.json` file through the cache `options` name, if any.
    pub fn from_file_with(path: &Path, options: &TokenizerOptions) -> Result<Tokenizer> {
        Tokenizer::from_path(&path.display().to_string(), path, options)
    }

    /// Loads `path` for the tokenizer `id`; errors name `id`.
    fn from_path(id: &str, path: &Path, options: &TokenizerOptions) -> Result<Tokenizer> {
        let source = if id == path.display().to_string() {
            id.to_string()
        } else {
            format!("the cached {}", path.display())
        };
        let read_error = |e: std::io::Error| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound if source == id => format!("{id} does not exist"),
                _ => format!("cannot read {source}: {e}"),
            };
            tokenizer_error(id, Category::User, reason)
        };
        let Some(dir) = &options.cache_dir else {
            let bytes = std::fs::read(path).map_err(read_error)?;
            return Tokenizer::from_bytes(id, &bytes, &source);
        };
        match fast::load(path, dir, options) {
            Ok(loaded) => Ok(Tokenizer::from_loaded(id, loaded)),
            Err(fast::Failure::Read(e)) => Err(read_error(e)),
            Err(fast::Failure::Parse(e)) => Err(tokenizer_error(
                id,
                Category::User,
                invalid_reason(&source, &e),
            )),
        }
    }

    /// Parses the contents of a `tokenizer.json`; `id` names it in messages, `source` says where it came from.
    pub fn from_bytes(id: &str, bytes: &[u8], source: &str) -> Result<Tokenizer> {
        let inner = tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| {
            tokenizer_error(id, Category::User, invalid_reason(source, &e.to_string()))
        })?;
        Ok(Tokenizer::from_loaded(
            id,
            fast::Loaded::Full(Box::new(inner)),
        ))
    }

    fn from_loaded(id: &str, inner: fast::Loaded) -> Tokenizer {
        let (added, vocab_size) =
            with_inner!(&inner, t => (t.get_added_tokens_decoder(), t.get_vocab_size(true)));
        let max_added = added.keys().map(|&i| i as usize + 1).max().unwrap_or(0);
        let mut special_ids: Vec<u32> = added
            .iter()
            .filter(|(_, token)| token.special)
            .map(|(&i, _)| i)
            .collect();
        special_ids.sort_unstable();
        Tokenizer {
            vocab_size: vocab_size.max(max_added),
            inner,
            id: id.to_string(),
            special_ids,
        }
    }

    /// Whether encoding runs on the cache tables (false: the whole tokenizer.json was parsed).
    pub fn uses_fast_path(&self) -> bool {
        matches!(self.inner, fast::Loaded::Fast(_))
    }

    /// What was asked for (a path or a repo id), for messages.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Token ids for `text`, special tokens added, as Python's `tokenizer.encode(text)`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_with(text, true)
    }

    /// Token ids for `text` with no special tokens added, as Python's
    /// `encode(text, add_special_tokens=False)`: chat prompts already hold their BOS.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_with(text, false)
    }

    fn encode_with(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let encoding = with_inner!(&self.inner, t => t.encode_fast(text, add_special_tokens))
            .map_err(|e| {
                Error::Unexpected(format!("tokenizer {} failed to encode: {e}", self.id))
            })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text for `ids`, special tokens kept, as Python's `tokenizer.decode(ids)`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        with_inner!(&self.inner, t => t.decode(ids, false))
            .map_err(|e| Error::Unexpected(format!("tokenizer {} failed to decode: {e}", self.id)))
    }

    /// Number of ids, added tokens included: every valid id is below this.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The id of `token` (a vocabulary entry or an added token), if any.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        with_inner!(&self.inner, t => t.token_to_id(token))
    }

    /// The token string for `id`, if the id exists.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        with_inner!(&self.inner, t => t.id_to_token(id))
    }

    /// Whether `id` is an added token marked special (e.g. `<|im_end|>`, `<|endoftext|>`).
    pub fn is_special(&self, id: u32) -> bool {
        self.special_ids.binary_search(&id).is_ok()
    }
}

/// Waits for tokenizer cache writes still running (see [`TokenizerOptions::defer_writes`]).
pub fn finish_cache_writes() {
    fast::finish_writes();
}

/// The error every tokenizer failure becomes: "Failed to load tokenizer <id>: <reason>".
pub(crate) fn tokenizer_error(id: &str, category: Category, reason: impl Into<String>) -> Error {
    Error::Tokenizer {
        id: id.to_string(),
        reason: reason.into(),
        category,
    }
}

fn invalid_reason(source: &str, parse_error: &str) -> String {
    let lower = source.to_ascii_lowercase();
    if lower.ends_with(".tiktoken") || lower.ends_with("tiktoken.model") {
        return format!(
            "{source} is a tiktoken file, which tinkex cannot read; pass a tokenizer.json instead"
        );
    }
    format!("{source} is not a valid tokenizer.json ({parse_error})")
}

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
fn load_repo(
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
    if let Some(path) = cache::cached_file(&hub.cache_dir, repo, "main", TOKENIZER_FILE) {
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
    match cache::store(
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
    if let Some(path) = cache::cached_file(&hub.cache_dir, repo, "main", file) {
        return read_repo_file(&path).map(Some);
    }
    let repo_dir = cache::repo_dir(&hub.cache_dir, repo);
    let commit = std::fs::read_to_string(repo_dir.join("refs/main")).unwrap_or_default();
    let commit = commit.trim();
    let no_exist =
        cache::is_commit_hash(commit).then(|| repo_dir.join(".no_exist").join(commit).join(file));
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
                let _ = cache::write_atomic(&marker, b"");
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
        if let Err(e) = cache::store(&hub.cache_dir, repo, commit, file, &downloaded.bytes) {
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
