//! The tokenizer layer: which Hugging Face tokenizer a model uses, where it comes from
//! (a file, the cache shared with Python, or the hub), and text ↔ token ids.

pub mod fast;
pub mod hf_cache;
pub mod hub;
pub mod prefetch;
mod repo;
pub mod settings;

use std::path::{Path, PathBuf};

pub use fast::TokenizerOptions;
pub use hub::HubRetry;
pub use repo::{repo_file, RepoFile};
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
    /// A path when `arg` exists, starts with `.`, `/` or `~`, ends in `.json`, or lies in a
    /// folder that exists (`somedir/x`); otherwise a repo id. A mistyped path so stays a
    /// path (a "no such file" error) instead of becoming a hub download.
    pub fn parse(arg: &str) -> TokenizerSpec {
        TokenizerSpec::parse_with_home(arg, std::env::var("HOME").ok().as_deref())
    }

    /// [`TokenizerSpec::parse`] with `~` expanded to `home` (tests pass their own).
    pub fn parse_with_home(arg: &str, home: Option<&str>) -> TokenizerSpec {
        if !looks_like_path(arg) && !Path::new(arg).exists() {
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

/// Whether `arg` is written like a path: `.`, `/` or `~` first, `.json` last, or a child of
/// a folder that exists (a repo id `org/name` only matches when a folder `org` is here).
fn looks_like_path(arg: &str) -> bool {
    let parent = Path::new(arg)
        .parent()
        .filter(|p| !p.as_os_str().is_empty());
    arg.starts_with(['.', '/', '~'])
        || arg.to_ascii_lowercase().ends_with(".json")
        || parent.is_some_and(Path::is_dir)
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
                        repo::load_repo(repo, &hub2, &deadline2, &retry2, &options2)
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
                std::io::ErrorKind::NotFound if source == id => {
                    crate::error::TOKENIZER_MISSING_FILE.to_string()
                }
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

/// Waits for the background cache writes when dropped. A command holds one for its whole
/// run, so every way out (success, an error, an early return, a panic unwinding) joins the
/// writer before the process exits, and no half-written cache file is left behind.
#[derive(Debug)]
#[must_use = "the cache writes are waited for when the guard is dropped"]
pub struct CacheWritesGuard(());

impl CacheWritesGuard {
    /// A guard for the cache writes started from now until it is dropped.
    pub fn new() -> CacheWritesGuard {
        CacheWritesGuard(())
    }
}

impl Default for CacheWritesGuard {
    fn default() -> Self {
        CacheWritesGuard::new()
    }
}

impl Drop for CacheWritesGuard {
    fn drop(&mut self) {
        finish_cache_writes();
    }
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
