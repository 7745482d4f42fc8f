//! The tokenizer layer: which Hugging Face tokenizer a model uses, where it comes from
//! (a file, the cache shared with Python, or the hub), and text ↔ token ids.

pub mod cache;
pub mod hub;
pub mod settings;

use std::path::{Path, PathBuf};

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
    inner: tokenizers::Tokenizer,
    id: String,
    vocab_size: usize,
    special_ids: Vec<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("id", &self.id)
            .field("vocab_size", &self.vocab_size)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Loads `spec`: a file as is; a repo from the cache, else from the hub (unless offline).
    pub fn load(spec: &TokenizerSpec, hub: &HubSettings, deadline: &Deadline) -> Result<Tokenizer> {
        Tokenizer::load_with(spec, hub, deadline, &HubRetry::default())
    }

    /// [`Tokenizer::load`] with explicit download retries (tests shorten the back-off).
    pub fn load_with(
        spec: &TokenizerSpec,
        hub: &HubSettings,
        deadline: &Deadline,
        retry: &HubRetry,
    ) -> Result<Tokenizer> {
        // Parsing a large tokenizer.json is seconds of CPU in a debug build or on a busy
        // machine and cannot be interrupted: it runs on a thread so the deadline still holds.
        let (tx, rx) = std::sync::mpsc::channel();
        let (spec2, hub2, deadline2, retry2) =
            (spec.clone(), hub.clone(), *deadline, retry.clone());
        let spawned = std::thread::Builder::new()
            .name("tinkex-tokenizer".to_string())
            .spawn(move || {
                let _ = tx.send(match &spec2 {
                    TokenizerSpec::File(path) => Tokenizer::from_file(path),
                    TokenizerSpec::Repo(repo) => load_repo(repo, &hub2, &deadline2, &retry2),
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

    /// Loads a `tokenizer.json` file.
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        let id = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => format!("{id} does not exist"),
                _ => format!("cannot read {id}: {e}"),
            };
            tokenizer_error(&id, Category::User, reason)
        })?;
        Tokenizer::from_bytes(&id, &bytes, &id)
    }

    /// Parses the contents of a `tokenizer.json`; `id` names it in messages, `source` says where it came from.
    pub fn from_bytes(id: &str, bytes: &[u8], source: &str) -> Result<Tokenizer> {
        let inner = tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| {
            tokenizer_error(id, Category::User, invalid_reason(source, &e.to_string()))
        })?;
        let added = inner.get_added_tokens_decoder();
        let max_added = added.keys().map(|&i| i as usize + 1).max().unwrap_or(0);
        let mut special_ids: Vec<u32> = added
            .iter()
            .filter(|(_, token)| token.special)
            .map(|(&i, _)| i)
            .collect();
        special_ids.sort_unstable();
        Ok(Tokenizer {
            vocab_size: inner.get_vocab_size(true).max(max_added),
            inner,
            id: id.to_string(),
            special_ids,
        })
    }

    /// What was asked for (a path or a repo id), for messages.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Token ids for `text`, special tokens added, as Python's `tokenizer.encode(text)`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode_fast(text, true).map_err(|e| {
            Error::Unexpected(format!("tokenizer {} failed to encode: {e}", self.id))
        })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text for `ids`, special tokens kept, as Python's `tokenizer.decode(ids)`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| Error::Unexpected(format!("tokenizer {} failed to decode: {e}", self.id)))
    }

    /// Number of ids, added tokens included: every valid id is below this.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The id of `token` (a vocabulary entry or an added token), if any.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token string for `id`, if the id exists.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Whether `id` is an added token marked special (e.g. `<|im_end|>`, `<|endoftext|>`).
    pub fn is_special(&self, id: u32) -> bool {
        self.special_ids.binary_search(&id).is_ok()
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
) -> Result<Tokenizer> {
    if !is_valid_repo_id(repo) {
        let reason =
            format!("{repo:?} is neither an existing file nor a Hugging Face repo id (ORG/NAME)");
        return Err(tokenizer_error(repo, Category::User, reason));
    }
    if let Some(path) = cache::cached_file(&hub.cache_dir, repo, "main", TOKENIZER_FILE) {
        log::debug!("tokenizer {repo} from the cache: {}", path.display());
        let bytes = std::fs::read(&path).map_err(|e| {
            tokenizer_error(
                repo,
                Category::User,
                format!("cannot read the cached {}: {e}", path.display()),
            )
        })?;
        let source = format!("the cached {}", path.display());
        return Tokenizer::from_bytes(repo, &bytes, &source);
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
    let tokenizer = Tokenizer::from_bytes(repo, &downloaded.bytes, &source)?;
    match downloaded.commit {
        Some(commit) => {
            match cache::store(
                &hub.cache_dir,
                repo,
                &commit,
                TOKENIZER_FILE,
                &downloaded.bytes,
            ) {
                Ok(path) => log::debug!("cached tokenizer {repo} at {}", path.display()),
                Err(e) => log::warn!(
                    "could not cache tokenizer {repo} in {}: {e}",
                    hub.cache_dir.display()
                ),
            }
        }
        None => {
            log::warn!("the hub sent no x-repo-commit for {repo}; its tokenizer was not cached")
        }
    }
    Ok(tokenizer)
}
