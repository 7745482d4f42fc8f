//! Whether and where the tokenizer cache is kept and how large it may grow, read from the
//! environment in one place.

use std::path::PathBuf;

/// The size cap when `TINKEX_CACHE_MAX_BYTES` is unset: 1 GiB, about a hundred tokenizers.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// How a tokenizer is loaded: with the instant-start cache in `cache_dir`, or without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerOptions {
    /// Directory of the fast-path cache files; `None` loads the full tokenizer every time
    /// (what `--no-tokenizer-cache` asks for).
    pub cache_dir: Option<PathBuf>,
    /// Least recently used entries are evicted after a write to keep the directory at most
    /// this large; `None` means unlimited.
    pub max_bytes: Option<u64>,
    /// A cold build writes its entry on a thread instead of before returning; the
    /// process must call [`crate::tokenizer::finish_cache_writes`] before it exits.
    pub defer_writes: bool,
}

impl TokenizerOptions {
    /// Options from the process environment.
    pub fn from_env() -> TokenizerOptions {
        TokenizerOptions::from_lookup(&|name| std::env::var(name).ok())
    }

    /// `$XDG_CACHE_HOME/tinkex/tokenizers`, else `$HOME/.cache/tinkex/tokenizers`, else no
    /// cache; the cap from `TINKEX_CACHE_MAX_BYTES` (0 = unlimited).
    ///
    /// A relative `XDG_CACHE_HOME` is ignored, as the XDG base-directory spec asks; an
    /// unreadable cap is reported and the default kept (a cache setting never fails a run).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> TokenizerOptions {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")));
        let max_bytes = match var("TINKEX_CACHE_MAX_BYTES").map(|v| parse_size(&v)) {
            None => Some(DEFAULT_MAX_BYTES),
            Some(Ok(0)) => None,
            Some(Ok(n)) => Some(n),
            Some(Err(why)) => {
                log::warn!("TINKEX_CACHE_MAX_BYTES ignored ({why}); the cap stays 1 GiB");
                Some(DEFAULT_MAX_BYTES)
            }
        };
        match base {
            Some(base) => TokenizerOptions::with_cache_dir(base.join("tinkex").join("tokenizers"))
                .with_max_bytes(max_bytes),
            None => TokenizerOptions::no_cache(),
        }
    }

    /// No cache: every load parses the whole `tokenizer.json`.
    pub fn no_cache() -> TokenizerOptions {
        TokenizerOptions {
            cache_dir: None,
            max_bytes: None,
            defer_writes: false,
        }
    }

    /// The cache in `dir` with the default cap (tests and embedders pick their own directory).
    pub fn with_cache_dir(dir: impl Into<PathBuf>) -> TokenizerOptions {
        TokenizerOptions {
            cache_dir: Some(dir.into()),
            max_bytes: Some(DEFAULT_MAX_BYTES),
            defer_writes: false,
        }
    }

    /// These options with cold builds writing on a thread (the CLI's choice).
    pub fn deferring_writes(self) -> TokenizerOptions {
        TokenizerOptions {
            defer_writes: true,
            ..self
        }
    }

    /// These options with the cap `max_bytes` (`None`: unlimited).
    pub fn with_max_bytes(self, max_bytes: Option<u64>) -> TokenizerOptions {
        TokenizerOptions { max_bytes, ..self }
    }
}

/// A byte count: digits with an optional binary suffix (`K`, `M`, `G`, `KiB`, …).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a byte count"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(format!("{text:?} has an unknown unit (use K, M or G)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1T").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn the_cap_comes_from_the_environment() {
        let env = |value: &'static str| {
            move |name: &str| match name {
                "HOME" => Some("/h".to_string()),
                "TINKEX_CACHE_MAX_BYTES" => Some(value.to_string()),
                _ => None,
            }
        };
        let cap = |v| TokenizerOptions::from_lookup(&env(v)).max_bytes;
        assert_eq!(cap(""), Some(DEFAULT_MAX_BYTES));
        assert_eq!(cap("0"), None);
        assert_eq!(cap("10M"), Some(10 << 20));
        assert_eq!(cap("lots"), Some(DEFAULT_MAX_BYTES));
    }
}
