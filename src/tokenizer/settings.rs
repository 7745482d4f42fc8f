//! Where the Hugging Face hub and its cache are, read from the same variables Python's `huggingface_hub` reads.

use std::fmt;
use std::path::PathBuf;

/// The public hub, used when `HF_ENDPOINT` is unset or empty.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Hub endpoint, credential, cache directory and offline switch.
#[derive(Clone, PartialEq, Eq)]
pub struct HubSettings {
    /// Base URL of the hub, without a trailing `/`.
    pub endpoint: String,
    /// The HF token sent as `Authorization: Bearer`, for gated or private repos.
    pub token: Option<String>,
    /// The hub cache shared with Python (`models--ORG--NAME/...` lives here).
    pub cache_dir: PathBuf,
    /// When true the network is never touched; only the cache is read.
    pub offline: bool,
}

impl HubSettings {
    /// Settings from the process environment.
    pub fn from_env() -> HubSettings {
        HubSettings::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Settings from an environment lookup; empty values count as unset.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> HubSettings {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let home = var("HOME");
        let expand = |value: String| expand_home(&value, home.as_deref());
        // Python: HF_HOME defaults to $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
        let hf_home = var("HF_HOME").map(expand).unwrap_or_else(|| {
            let cache = var("XDG_CACHE_HOME")
                .map(expand)
                .unwrap_or_else(|| home_join(home.as_deref(), ".cache"));
            cache.join("huggingface")
        });
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(expand)
            .unwrap_or_else(|| hf_home.join("hub"));
        let endpoint = var("HF_ENDPOINT")
            .map(|e| e.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let token = var("HF_TOKEN").map(|t| t.trim().to_string()).or_else(|| {
            let path = var("HF_TOKEN_PATH")
                .map(expand)
                .unwrap_or_else(|| hf_home.join("token"));
            read_token_file(&path)
        });
        // Registered as soon as it is read: a hub error or a log line may quote it.
        if let Some(token) = &token {
            crate::redact::register_secret(token);
        }
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| is_true(&v));
        HubSettings {
            endpoint,
            token,
            cache_dir,
            offline,
        }
    }
}

impl fmt::Debug for HubSettings {
    // Hand-written so that `{:?}` can never leak the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSettings")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("cache_dir", &self.cache_dir)
            .field("offline", &self.offline)
            .finish()
    }
}

/// The token saved by `huggingface-cli login`, if the file exists and is not blank.
fn read_token_file(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// Python's `_is_true`: the spellings `huggingface_hub` accepts for an on switch.
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

/// `~` or `~/x` with the home directory put in, as Python's `expanduser` does.
pub(crate) fn expand_home(value: &str, home: Option<&str>) -> PathBuf {
    match (value.strip_prefix('~'), home) {
        (Some(""), Some(home)) => PathBuf::from(home),
        (Some(rest), Some(home)) if rest.starts_with('/') => {
            home_join(Some(home), rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(value),
    }
}

fn home_join(home: Option<&str>, rest: &str) -> PathBuf {
    match home {
        Some(home) => PathBuf::from(home).join(rest),
        None => PathBuf::from(rest),
    }
}
