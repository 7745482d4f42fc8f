//! Whether and where the tokenizer cache is kept, read from the environment in one place.

use std::path::PathBuf;

/// How a tokenizer is loaded: with the instant-start cache in `cache_dir`, or without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerOptions {
    /// Directory of the fast-path cache files; `None` loads the full tokenizer every time
    /// (what `--no-tokenizer-cache` asks for).
    pub cache_dir: Option<PathBuf>,
}

impl TokenizerOptions {
    /// Options from the process environment.
    pub fn from_env() -> TokenizerOptions {
        TokenizerOptions::from_lookup(&|name| std::env::var(name).ok())
    }

    /// `$XDG_CACHE_HOME/tinkex/tokenizers`, else `$HOME/.cache/tinkex/tokenizers`, else no cache.
    ///
    /// A relative `XDG_CACHE_HOME` is ignored, as the XDG base-directory spec asks.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> TokenizerOptions {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")));
        TokenizerOptions {
            cache_dir: base.map(|b| b.join("tinkex").join("tokenizers")),
        }
    }

    /// No cache: every load parses the whole `tokenizer.json`.
    pub fn no_cache() -> TokenizerOptions {
        TokenizerOptions { cache_dir: None }
    }

    /// The cache in `dir` (tests and embedders pick their own directory).
    pub fn with_cache_dir(dir: impl Into<PathBuf>) -> TokenizerOptions {
        TokenizerOptions {
            cache_dir: Some(dir.into()),
        }
    }
}
