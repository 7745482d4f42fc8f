//! Client configuration: credential, base URL, deadline, pool, retry policy and
//! the environment defaults the CLI reads in this one place.

use std::time::Duration;

use crate::client::credentials::COMMAND_VAR;
use crate::client::jwt;
use crate::client::retry::RetryPolicy;
use crate::client::stored;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

/// The production service, used when neither `--base-url` nor `TINKER_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://tinker.thinkingmachines.dev/services/tinker-prod";

/// The SDK version whose sampling behaviour tinkex matches; sent as `sdk_version`.
pub const SDK_VERSION: &str = "0.38.0";

/// Everything a [`ServiceClient`](crate::client::ServiceClient) needs to talk to the server.
#[derive(Clone)]
pub struct Config {
    /// The credential in hand (a `tml-` key or a JWT), sent as `X-API-Key`; empty when
    /// only [`Config::credential_cmd`] gives one. Never logged.
    pub api_key: String,
    /// `TINKER_CREDENTIAL_CMD`: a shell command printing a fresh credential, run when one
    /// is needed (for `client/config` without a key in hand, and for each JWT exchange).
    pub credential_cmd: Option<String>,
    /// The service root; API paths are appended to it.
    pub base_url: String,
    /// The one deadline every request, retry and wait is capped by.
    pub deadline: Deadline,
    /// Bounds each step from its start (the handshake, a session, a sampling session, one
    /// sample from submission to result) inside `deadline`: a batch sets it to `--timeout`,
    /// so no step of a batch without `--batch-timeout` can wait for ever. `None`: no bound.
    pub step_timeout: Option<Duration>,
    /// How many idle keep-alive connections the agent keeps.
    pub http_pool: usize,
    /// Where every back-off delay comes from.
    pub retry: RetryPolicy,
    /// Session tags (`TINKER_TAGS`).
    pub tags: Vec<String>,
    /// Project the session belongs to (`TINKER_PROJECT_ID`).
    pub project_id: Option<String>,
    /// The session's display name and metadata (`create_session`).
    pub session: crate::client::SessionMeta,
    /// Where the credential came from (`tinkex auth status` names it; never the value).
    pub credential_source: CredentialSource,
    pub(crate) timing: Timing,
}

/// Where a credential was found, in the SDK's order of sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Handed to [`Config::new`] by a library user.
    Given,
    /// `--api-key`.
    Flag,
    /// `TINKER_API_KEY`.
    Env,
    /// `TINKER_CREDENTIAL_CMD`.
    Command,
    /// The default key `tinker auth login` stored in this file.
    File(std::path::PathBuf),
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Given => f.write_str("the configuration"),
            CredentialSource::Flag => f.write_str("--api-key"),
            CredentialSource::Env => f.write_str("TINKER_API_KEY"),
            CredentialSource::Command => f.write_str(COMMAND_VAR),
            CredentialSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Protocol time constants, kept together so tests can shrink them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    pub heartbeat_warn_after: Duration,
    pub poll_timeout: Duration,
    pub stall_timeout: Duration,
    pub request_timeout: Duration,
    pub finish_timeout: Duration,
    /// Whether setup calls (the handshake, sessions) retry at all: `auth status` makes one
    /// attempt of each, as the protocol's read-endpoint table says.
    pub setup_retries: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(10),
            heartbeat_warn_after: Duration::from_secs(120),
            poll_timeout: Duration::from_secs(45),
            stall_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(60),
            finish_timeout: Duration::from_secs(3),
            setup_retries: true,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("api_key", &"[REDACTED]")
            .field(
                "credential_cmd",
                &self.credential_cmd.as_ref().map(|_| "[SET]"),
            )
            .field("base_url", &self.base_url)
            .field("deadline", &self.deadline)
            .field("step_timeout", &self.step_timeout)
            .field("http_pool", &self.http_pool)
            .field("retry", &self.retry)
            .field("tags", &self.tags)
            .field("project_id", &self.project_id)
            .field("session", &self.session)
            .field("credential_source", &self.credential_source)
            .finish()
    }
}

impl Config {
    /// Library users: explicit key and base URL, no env read. Default deadline 600 s, pool 8.
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>) -> Config {
        Config {
            api_key: api_key.into(),
            credential_cmd: None,
            base_url: base_url.into(),
            deadline: Deadline::after(Duration::from_secs(600)),
            http_pool: 8,
            retry: RetryPolicy::default(),
            tags: Vec::new(),
            project_id: None,
            session: crate::client::SessionMeta::default(),
            credential_source: CredentialSource::Given,
            step_timeout: None,
            timing: Timing::default(),
        }
    }

    /// The CLI: flag values win, env gives defaults (the credential per
    /// [`resolve_credential`], `TINKER_BASE_URL` (empty = unset), `TINKER_TAGS`,
    /// `TINKER_PROJECT_ID`, `TINKEX_RETRY_SCALE`).
    /// Validates the key prefix (an auth error that never echoes the key).
    pub fn from_env(
        api_key_flag: Option<String>,
        base_url_flag: Option<String>,
        deadline: Deadline,
        http_pool: usize,
    ) -> Result<Config> {
        let lookup = |name: &str| std::env::var(name).ok();
        Config::from_lookup(api_key_flag, base_url_flag, deadline, http_pool, &lookup)
    }

    /// Same as [`Config::from_env`], with the environment looked up through `lookup`.
    pub fn from_lookup(
        api_key_flag: Option<String>,
        base_url_flag: Option<String>,
        deadline: Deadline,
        http_pool: usize,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config> {
        let env = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let credential = resolve_credential(api_key_flag, lookup)?;
        let base_url = non_empty(base_url_flag)
            .or_else(|| env("TINKER_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let tags = env("TINKER_TAGS")
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let retry = match env("TINKEX_RETRY_SCALE") {
            Some(raw) => RetryPolicy::scaled(parse_scale(&raw)?),
            None => RetryPolicy::default(),
        };
        let mut config = Config::new(credential.key, base_url.trim());
        config.credential_cmd = credential.command;
        config.credential_source = credential.source;
        config.deadline = deadline;
        config.http_pool = http_pool.max(1);
        config.retry = retry;
        config.tags = tags;
        config.project_id = env("TINKER_PROJECT_ID").map(|p| p.trim().to_string());
        Ok(config)
    }

    /// Sets how often the session heartbeat is sent (10 s by default).
    pub fn with_heartbeat_interval(mut self, every: Duration) -> Config {
        self.timing.heartbeat_interval = every;
        self
    }

    /// Sets how long one `retrieve_future` poll may take, body included (45 s by default).
    pub fn with_poll_timeout(mut self, timeout: Duration) -> Config {
        self.timing.poll_timeout = timeout;
        self
    }

    /// Sets how long a result body may make no progress before the poll is dropped (15 s).
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Config {
        self.timing.stall_timeout = timeout;
        self
    }

    /// Sets after how long without a successful heartbeat a warning is logged (120 s).
    pub fn with_heartbeat_warning_after(mut self, after: Duration) -> Config {
        self.timing.heartbeat_warn_after = after;
        self
    }

    /// Sets the credential command (`TINKER_CREDENTIAL_CMD`) for a library-built config.
    pub fn with_credential_command(mut self, command: impl Into<String>) -> Config {
        self.credential_cmd = Some(command.into());
        self
    }

    /// Refuses, before any request, a key that cannot be valid.
    pub(crate) fn validate(&self) -> Result<()> {
        if !self.api_key.trim().is_empty() {
            check_key(&self.api_key, "the API key")?;
        } else if self.credential_cmd.is_none() {
            return Err(nothing_found());
        }
        let url = self.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::input(format!(
                "invalid base URL '{url}': it must start with http:// or https://"
            )));
        }
        Ok(())
    }
}

/// The credential a run starts with.
pub(crate) struct Credential {
    /// The key in hand; empty when the command is to be run instead.
    pub key: String,
    /// `TINKER_CREDENTIAL_CMD`, kept whenever it is set (the server may ask for it).
    pub command: Option<String>,
    /// Which source gave [`Credential::key`] (the command, when the key is empty).
    pub source: CredentialSource,
}

/// Finds the credential, in the SDK's order: `--api-key`, `TINKER_API_KEY`,
/// `TINKER_CREDENTIAL_CMD`, then the key stored in `$HOME/.tinker/credentials.json`
/// (only when no command is set). Empty values count as unset; a key with a bad
/// prefix gives way to the command when one is set. Logs the winning source at
/// debug, never the value; every key seen is registered as a secret.
pub(crate) fn resolve_credential(
    flag: Option<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Credential> {
    let command = non_empty(lookup(COMMAND_VAR));
    let given = non_empty(flag)
        .map(|key| {
            (
                key,
                CredentialSource::Flag,
                "the API key given with --api-key",
            )
        })
        .or_else(|| {
            non_empty(lookup("TINKER_API_KEY"))
                .map(|key| (key, CredentialSource::Env, "the API key in TINKER_API_KEY"))
        });
    if let Some((key, source, what)) = given {
        crate::redact::register_secret(&key);
        let bad_prefix = !key.starts_with("tml-") && !key.starts_with("eyJ");
        if !(bad_prefix && command.is_some()) {
            check_key(&key, what)?;
            log::debug!("credential: from {source}");
            return Ok(Credential {
                key,
                command,
                source,
            });
        }
        log::warn!("{what} is neither a 'tml-' key nor a JWT; using {COMMAND_VAR} instead");
    }
    if command.is_some() {
        log::debug!("credential: from {COMMAND_VAR}");
        return Ok(Credential {
            key: String::new(),
            command,
            source: CredentialSource::Command,
        });
    }
    let Some(stored) = stored::stored_key(lookup("HOME").as_deref())? else {
        return Err(nothing_found());
    };
    let what = format!("the key stored in {}", stored.path.display());
    check_key(&stored.key, &what)?;
    log::debug!("credential: from {}", stored.path.display());
    Ok(Credential {
        key: stored.key,
        command: None,
        source: CredentialSource::File(stored.path),
    })
}

/// The error when no source gives a credential: every way to give one, in order.
fn nothing_found() -> Error {
    Error::Auth {
        message: "no API key found".to_string(),
        hint: Some(format!(
            "give tinkex a key: export TINKER_API_KEY=KEY (or pass --api-key KEY, set \
             {COMMAND_VAR} to a command that prints one, or keep the key 'tinker auth login' \
             stores); then 'tinkex auth status' checks it"
        )),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The SDK's own rule: `tml-` keys or JWTs only; an expired JWT is refused too.
fn check_key(key: &str, source: &str) -> Result<()> {
    if key.starts_with("eyJ") {
        if jwt::jwt_expired(key) {
            return Err(Error::auth(format!("{source} is a JWT that has expired")));
        }
        return Ok(());
    }
    if !key.starts_with("tml-") {
        return Err(Error::Auth {
            message: format!("{source} is malformed: it must start with 'tml-'"),
            hint: Some("copy the key again from the Tinker console".to_string()),
        });
    }
    if key.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::auth(format!(
            "{source} is malformed: it contains spaces or control characters"
        )));
    }
    Ok(())
}

/// `TINKEX_RETRY_SCALE` from the environment (1 when unset), for callers that have no
/// [`Config`] (`--print-prompt` still paces hub retries by it).
pub fn retry_scale_from_env() -> Result<f64> {
    std::env::var("TINKEX_RETRY_SCALE")
        .ok()
        .map_or(Ok(1.0), |raw| parse_scale(&raw))
}

fn parse_scale(raw: &str) -> Result<f64> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(Error::Usage(format!(
            "TINKEX_RETRY_SCALE must be a non-negative number, got '{}'",
            raw.trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn deadline() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

    #[test]
    fn flags_win_over_env_and_empty_env_is_unset() {
        let lookup = env(&[
            ("TINKER_API_KEY", "tml-env"),
            ("TINKER_BASE_URL", ""),
            ("TINKER_TAGS", "a, b,,c"),
        ]);
        let c = Config::from_lookup(Some("tml-flag".into()), None, deadline(), 4, &lookup).unwrap();
        assert_eq!(c.api_key, "tml-flag");
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.tags, vec!["a", "b", "c"]);
        assert_eq!(c.project_id, None);
        let c = Config::from_lookup(None, Some("http://x".into()), deadline(), 4, &lookup).unwrap();
        assert_eq!(c.api_key, "tml-env");
        assert_eq!(c.base_url, "http://x");
    }

    #[test]
    fn bad_prefix_is_an_auth_error_that_hides_the_key() {
        let lookup = env(&[]);
        let err = Config::from_lookup(Some("sk-secret123".into()), None, deadline(), 1, &lookup)
            .unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("--api-key"), "{err}");
        assert!(!err.to_string().contains("secret123"));
        let err = Config::from_lookup(None, None, deadline(), 1, &lookup).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let hint = err.hint().unwrap();
        for way in [
            "--api-key",
            "TINKER_API_KEY",
            "TINKER_CREDENTIAL_CMD",
            "tinker auth login",
        ] {
            assert!(hint.contains(way), "{hint}");
        }
    }

    #[test]
    fn retry_scale_is_validated() {
        let lookup = env(&[("TINKEX_RETRY_SCALE", "fast")]);
        let err =
            Config::from_lookup(Some("tml-k".into()), None, deadline(), 1, &lookup).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("TINKEX_RETRY_SCALE"));
        let lookup = env(&[("TINKEX_RETRY_SCALE", "0"), ("TINKER_PROJECT_ID", "p1")]);
        let c = Config::from_lookup(Some("tml-k".into()), None, deadline(), 1, &lookup).unwrap();
        assert_eq!(c.retry.scale(), 0.0);
        assert_eq!(c.project_id.as_deref(), Some("p1"));
    }
}
