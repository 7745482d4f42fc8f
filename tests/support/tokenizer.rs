//! Helpers shared by the tokenizer test modules.

use std::path::Path;
use std::time::Duration;

use tinkex::tokenizer::{HubRetry, HubSettings, Tokenizer, TokenizerSpec};
use tinkex::{Category, Deadline, Error};

/// The small hand-written tokenizer that hub and cache tests serve.
pub const TINY: &str = "fixtures/tiny/tokenizer.json";

/// A plausible commit hash, as the hub sends in `x-repo-commit`.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn tiny_bytes() -> Vec<u8> {
    std::fs::read(TINY).expect("tiny fixture")
}

/// Hub settings for a test: a temp cache, a mock endpoint, no process environment.
pub fn hub(cache: &Path, endpoint: &str, token: Option<&str>, offline: bool) -> HubSettings {
    HubSettings {
        endpoint: endpoint.to_string(),
        token: token.map(str::to_string),
        cache_dir: cache.to_path_buf(),
        offline,
    }
}

/// Retries without real waiting.
pub fn fast_retry() -> HubRetry {
    HubRetry {
        attempts: 3,
        first_backoff: Duration::from_millis(1),
    }
}

pub fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

pub fn load_repo(repo: &str, hub: &HubSettings) -> Result<Tokenizer, Error> {
    let spec = TokenizerSpec::Repo(repo.to_string());
    Tokenizer::load_with(&spec, hub, &deadline(), &fast_retry())
}

/// The error's category and full message, checking the shared message shape.
pub fn failure(result: Result<Tokenizer, Error>, id: &str) -> (Category, String) {
    let err = result.expect_err("loading should fail");
    let message = err.to_string();
    let prefix = format!("Failed to load tokenizer {id}: ");
    assert!(
        message.starts_with(&prefix),
        "message {message:?} lacks {prefix:?}"
    );
    assert!(!message.contains('\n'), "message is one line: {message:?}");
    (err.category(), message)
}
