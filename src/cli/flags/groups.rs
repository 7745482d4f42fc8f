//! The shared flag groups as plain values (what `command_args!`'s accessors return), and the
//! checks that need nothing outside their own group, written once for every command.

use std::path::PathBuf;
use std::time::Duration;

use super::values::{
    Concurrency, MaxTokens, Positive, ShardSpec, Temperature, TimeoutSecs, TokenId, TopK, TopP,
};
use crate::client::{SamplingParams, SessionMeta, StopCondition};
use crate::error::{Error, Result};

/// The default `--max-tokens`: some servers require one, and an unbounded sample costs money.
pub const DEFAULT_MAX_TOKENS: u32 = 128;
/// The default `--timeout`, so a cron job can never hang.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// `--base-model`, `--model-path`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelFlags {
    pub base_model: Option<String>,
    pub model_path: Option<String>,
}

/// `--prompt`, `--prompt-file`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptFlags {
    pub prompt: Option<String>,
    pub prompt_file: Option<String>,
}

/// `--tokenizer`, `--offline`, `--no-tokenizer-cache`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerFlags {
    pub tokenizer: Option<String>,
    pub offline: bool,
    pub no_tokenizer_cache: bool,
}

/// The sampling flags: what the server draws and what it returns besides the samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplingFlags {
    pub max_tokens: Option<MaxTokens>,
    pub temperature: Option<Temperature>,
    pub top_k: Option<TopK>,
    pub top_p: Option<TopP>,
    pub num_samples: Option<Positive>,
    pub seed: Option<i64>,
    pub stop: Vec<String>,
    pub stop_token: Vec<TokenId>,
    pub prompt_logprobs: bool,
    pub topk_prompt_logprobs: Option<u32>,
    pub topk_logprobs: Option<Positive>,
}

/// The batch-mode flags (`--input` and what only a batch takes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchFlags {
    pub input: Option<String>,
    pub parallel: Option<Concurrency>,
    pub resume: bool,
    pub shard: Option<ShardSpec>,
    pub fail_fast: bool,
    pub progress: bool,
    pub batch_timeout: Option<TimeoutSecs>,
}

/// The chat-mode flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatFlags {
    pub chat: bool,
    pub system: Option<String>,
    pub messages: Option<String>,
    pub chat_template: Option<PathBuf>,
    pub template_arg: Vec<String>,
    pub think: bool,
    pub no_think: bool,
    pub renderer: Option<String>,
}

/// `--api-key`, `--base-url`, `--timeout`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionFlags {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub timeout: Option<TimeoutSecs>,
}

/// `--http-pool`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolFlags {
    pub http_pool: Option<Concurrency>,
}

/// `--json`, `--output`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputFlags {
    pub json: bool,
    pub output: Option<PathBuf>,
}

/// `run`'s rendering switches: `--print-prompt`, `--logprobs`, `--tokens-only`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderFlags {
    pub print_prompt: bool,
    pub logprobs: bool,
    pub tokens_only: bool,
}

/// `-q`, `-v…`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerbosityFlags {
    pub quiet: bool,
    pub verbose: u8,
}

/// How much goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Warnings, errors and status lines.
    Normal,
    /// `-v` (1), `-vv` (2), `-vvv` (3).
    Verbose(u8),
}

/// The connection flags, checked: the environment is consulted later, by the client layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// `--api-key`.
    pub api_key: Option<String>,
    /// `--base-url`.
    pub base_url: Option<String>,
    /// `--timeout`, else [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
}

impl VerbosityFlags {
    /// The one verbosity rule of every command: `-q` or `-v…`, not both.
    pub fn validate(&self) -> Result<Verbosity> {
        match (self.quiet, self.verbose) {
            (true, 0) => Ok(Verbosity::Quiet),
            (true, _) => Err(Error::usage("give either --quiet or --verbose, not both")),
            (false, 0) => Ok(Verbosity::Normal),
            (false, n) => Ok(Verbosity::Verbose(n)),
        }
    }
}

impl ConnectionFlags {
    /// The connection settings, the timeout defaulted.
    pub fn validate(&self) -> Result<Connection> {
        Ok(Connection {
            api_key: self.api_key.clone(),
            base_url: self.base_url.clone(),
            timeout: self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
        })
    }
}

impl ModelFlags {
    /// A model is named, by `--base-model` or a `tinker://` `--model-path`.
    pub fn validate(&self) -> Result<()> {
        if self.base_model.is_none() && self.model_path.is_none() {
            return Err(Error::usage(
                "no model given: pass --base-model NAME or --model-path tinker://…",
            ));
        }
        if let Some(path) = &self.model_path {
            if !path.starts_with("tinker://") {
                return Err(Error::usage(format!(
                    "--model-path must be a tinker:// path, got '{path}'"
                )));
            }
        }
        if self
            .base_model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(Error::usage("--base-model is empty"));
        }
        Ok(())
    }
}

impl OutputFlags {
    /// `--output` names a file when given.
    pub fn validate(&self) -> Result<()> {
        if self
            .output
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(Error::usage("--output is empty"));
        }
        Ok(())
    }
}

impl SamplingFlags {
    /// The wire sampling parameters: the flags, else the defaults (`--max-tokens` 128).
    pub fn params(&self) -> Result<SamplingParams> {
        let defaults = SamplingParams::default();
        Ok(SamplingParams {
            max_tokens: Some(self.max_tokens.map_or(DEFAULT_MAX_TOKENS, |m| m.0)),
            seed: self.seed,
            stop: self.stop_condition()?,
            temperature: self.temperature.map_or(defaults.temperature, |t| t.0),
            top_k: self.top_k.map_or(defaults.top_k, |k| k.0),
            top_p: self.top_p.map_or(defaults.top_p, |p| p.0),
        })
    }

    /// `--stop` strings or `--stop-token` ids, never both, never an empty string.
    fn stop_condition(&self) -> Result<Option<StopCondition>> {
        let stop = match (self.stop.is_empty(), self.stop_token.is_empty()) {
            (false, false) => {
                return Err(Error::usage("give either --stop or --stop-token, not both"))
            }
            (false, true) => Some(StopCondition::Strings(self.stop.clone())),
            (true, false) => Some(StopCondition::Tokens(
                self.stop_token.iter().map(|t| t.0).collect(),
            )),
            (true, true) => None,
        };
        if self.stop_token.is_empty()
            && matches!(&stop, Some(StopCondition::Strings(s)) if s.iter().any(String::is_empty))
        {
            return Err(Error::usage("--stop must not be empty"));
        }
        Ok(stop)
    }
}

// ---- Sessions that name their job (`--session-name`, `--meta`), for billing attribution. ----

/// The longest `--session-name`, in bytes (a label for tables, not a document).
pub const MAX_SESSION_NAME: usize = 256;
/// The most `--meta` entries one session carries.
pub const MAX_META_ENTRIES: usize = 64;
/// The longest `--meta` key, in bytes.
pub const MAX_META_KEY: usize = 128;
/// The longest `--meta` value, in bytes.
pub const MAX_META_VALUE: usize = 1024;

/// `--session-name`, `--meta KEY=VALUE…`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFlags {
    pub session_name: Option<String>,
    pub meta: Vec<String>,
}

impl SessionFlags {
    /// The session's display name and metadata, every entry checked (exit 2 naming the flag).
    pub fn validate(&self) -> Result<SessionMeta> {
        let display_name = match self.session_name.as_deref() {
            None => None,
            Some(name) => Some(session_name(name)?),
        };
        if self.meta.len() > MAX_META_ENTRIES {
            return Err(Error::usage(format!(
                "--meta: at most {MAX_META_ENTRIES} entries, got {}",
                self.meta.len()
            )));
        }
        let mut meta = SessionMeta {
            display_name,
            ..SessionMeta::default()
        };
        for entry in &self.meta {
            let (key, value) = meta_entry(entry)?;
            if meta.user_metadata.iter().any(|(k, _)| k == key) {
                return Err(Error::usage(format!("--meta: key '{key}' is given twice")));
            }
            meta.insert(key, value);
        }
        Ok(meta)
    }
}

/// A non-blank, bounded name without control characters (they would break tables and CSV).
fn session_name(name: &str) -> Result<String> {
    if name.trim().is_empty() {
        return Err(Error::usage("--session-name is empty"));
    }
    if name.len() > MAX_SESSION_NAME {
        return Err(Error::usage(format!(
            "--session-name is {} bytes long, at most {MAX_SESSION_NAME}",
            name.len()
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::usage("--session-name holds a control character"));
    }
    Ok(name.to_string())
}

/// `KEY=VALUE`, split at the first `=`: a non-empty key, both bounded, no control characters.
fn meta_entry(entry: &str) -> Result<(&str, &str)> {
    let Some((key, value)) = entry.split_once('=') else {
        return Err(Error::usage(format!(
            "--meta expects KEY=VALUE, got '{}'",
            entry
                .chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect::<String>()
        )));
    };
    if key.trim().is_empty() {
        return Err(Error::usage("--meta: the key before '=' is empty"));
    }
    if entry.chars().any(char::is_control) {
        return Err(Error::usage("--meta: an entry holds a control character"));
    }
    if key.len() > MAX_META_KEY {
        return Err(Error::usage(format!(
            "--meta: a key is {} bytes long, at most {MAX_META_KEY}",
            key.len()
        )));
    }
    if value.len() > MAX_META_VALUE {
        return Err(Error::usage(format!(
            "--meta: the value of '{key}' is {} bytes long, at most {MAX_META_VALUE}",
            value.len()
        )));
    }
    Ok((key, value))
}

#[cfg(test)]
mod session_tests {
    use super::*;

    fn check(name: Option<&str>, meta: &[&str]) -> Result<SessionMeta> {
        SessionFlags {
            session_name: name.map(str::to_string),
            meta: meta.iter().map(|m| m.to_string()).collect(),
        }
        .validate()
    }

    fn refusal(name: Option<&str>, meta: &[&str]) -> String {
        let error = check(name, meta).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{error}");
        error.to_string()
    }

    #[test]
    fn name_and_entries_carry_over_in_order() {
        let meta = check(Some("nightly eval"), &["job=eval", "note=a=b", "empty="]).unwrap();
        assert_eq!(meta.display_name.as_deref(), Some("nightly eval"));
        let pairs: Vec<(&str, &str)> = meta
            .user_metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, [("job", "eval"), ("note", "a=b"), ("empty", "")]);
        assert_eq!(check(None, &[]).unwrap(), SessionMeta::default());
    }

    #[test]
    fn bad_entries_are_refused_naming_the_flag() {
        assert!(refusal(None, &["job"]).contains("--meta expects KEY=VALUE"));
        assert!(refusal(None, &["=x"]).contains("--meta: the key before '=' is empty"));
        assert!(refusal(None, &["a=1", "b=2", "a=3"]).contains("--meta: key 'a' is given twice"));
        assert!(refusal(None, &["a=line\nbreak"]).contains("--meta: an entry holds a control"));
        let long_key = format!("{}=v", "k".repeat(MAX_META_KEY + 1));
        assert!(refusal(None, &[&long_key]).contains("at most 128"));
        let long_value = format!("k={}", "v".repeat(MAX_META_VALUE + 1));
        assert!(refusal(None, &[&long_value]).contains("at most 1024"));
        let many: Vec<String> = (0..=MAX_META_ENTRIES).map(|i| format!("k{i}=v")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(refusal(None, &many).contains("at most 64 entries"));
    }

    #[test]
    fn bad_names_are_refused_naming_the_flag() {
        assert!(refusal(Some(" "), &[]).contains("--session-name is empty"));
        let long = "n".repeat(MAX_SESSION_NAME + 1);
        assert!(refusal(Some(&long), &[]).contains("--session-name is 257 bytes long"));
        assert!(refusal(Some("a\tb"), &[]).contains("--session-name holds a control"));
    }
}
