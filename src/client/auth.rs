//! The credential in use: the raw key, or a JWT from `auth/token` that is
//! refreshed before it expires and after the server calls it invalid.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use serde_json::Value;

use crate::client::config::Config;
use crate::client::core::Core;
use crate::client::credentials::{CredentialCommand, COMMAND_VAR};
use crate::client::jwt::{expires_within, jwt_exp};
use crate::client::status;
use crate::client::transport::Request;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

const EXCHANGE_STEP: &str = "exchanging the API key for a session token";

/// A JWT and its expiry (seconds since the epoch), when it has one.
#[derive(Clone)]
struct Jwt {
    token: String,
    exp: Option<u64>,
}

/// Which credential goes into `X-API-Key`.
pub(crate) struct Auth {
    /// For `client/config` and `auth/token`: the key in hand, else the command's output.
    handshake: Mutex<Option<String>>,
    command: Option<CredentialCommand>,
    /// No key in hand: the command is the only source.
    command_only: bool,
    /// The JWT exchange runs the command for a fresh credential each time.
    exchange_via_command: AtomicBool,
    jwt: Mutex<Option<Jwt>>,
    /// Set once a JWT is stored (read without the lock, which a refresh may hold).
    jwt_in_use: AtomicBool,
}

impl Auth {
    /// Starts with the key in hand (or, without one, the credential command);
    /// [`Auth::configure`] switches to exchanged JWTs when the server asks.
    pub(crate) fn new(config: &Config) -> Auth {
        let key = config.api_key.trim();
        Auth {
            handshake: Mutex::new((!key.is_empty()).then(|| key.to_string())),
            command: config.credential_cmd.as_deref().map(CredentialCommand::new),
            command_only: key.is_empty(),
            exchange_via_command: AtomicBool::new(false),
            jwt: Mutex::new(None),
            jwt_in_use: AtomicBool::new(false),
        }
    }

    /// The credential for `client/config` and `auth/token`; runs the command when
    /// nothing is in hand yet.
    pub(crate) fn raw(&self, deadline: &Deadline) -> Result<String> {
        let mut slot = lock_by(&self.handshake, deadline)?;
        if let Some(key) = slot.as_ref() {
            return Ok(key.clone());
        }
        let command = self
            .command
            .as_ref()
            .ok_or_else(|| Error::auth("no API key found"))?;
        let fresh = command.fetch(deadline)?;
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Acts on `client/config`'s answer: with `pjwt_auth_enabled`, exchange for a JWT
    /// (with the command's credential when `credential_default_source` is
    /// `credential_cmd` or the command is the only source); without it, only a key
    /// in hand can serve.
    pub(crate) fn configure(&self, core: &Core, flags: &Value, deadline: &Deadline) -> Result<()> {
        let pjwt = flags.get("pjwt_auth_enabled").and_then(Value::as_bool) == Some(true);
        if !pjwt {
            if self.command_only {
                return Err(Error::Auth {
                    message: format!(
                        "only {COMMAND_VAR} gives a credential, and this server does not \
                         accept it: JWT auth (pjwt_auth_enabled) is off, so only API keys work"
                    ),
                    hint: Some(
                        "give the API key with --api-key or TINKER_API_KEY, or run \
                         'tinker auth login' and unset TINKER_CREDENTIAL_CMD"
                            .to_string(),
                    ),
                });
            }
            return Ok(());
        }
        let wants_command = flags
            .get("credential_default_source")
            .and_then(Value::as_str)
            == Some("credential_cmd");
        let key_is_jwt = !self.command_only && self.raw(deadline)?.starts_with("eyJ");
        if key_is_jwt {
            return Ok(());
        }
        if self.command.is_some() && (self.command_only || wants_command) {
            log::debug!("JWT exchange: using the credential from {COMMAND_VAR}");
            self.exchange_via_command.store(true, Ordering::SeqCst);
        }
        let jwt = self.fresh_jwt(core, deadline)?;
        *lock_by(&self.jwt, deadline)? = Some(jwt);
        self.jwt_in_use.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Whether a refreshable JWT is in use.
    pub(crate) fn uses_jwt(&self) -> bool {
        self.jwt_in_use.load(Ordering::SeqCst)
    }

    /// The credential for the next request, refreshing a JWT with < 60 s left.
    pub(crate) fn credential(&self, core: &Core, deadline: &Deadline) -> Result<String> {
        let mut guard = lock_by(&self.jwt, deadline)?;
        match guard.as_ref() {
            None => {
                drop(guard);
                self.raw(deadline)
            }
            Some(jwt) if !expires_within(jwt.exp, 60) => Ok(jwt.token.clone()),
            Some(_) => {
                log::debug!("session token expires within 60 s; refreshing it");
                let fresh = self.fresh_jwt(core, deadline)?;
                let token = fresh.token.clone();
                *guard = Some(fresh);
                Ok(token)
            }
        }
    }

    /// A fresh JWT after `stale` was refused (once per stale token, whoever asks).
    pub(crate) fn refresh(&self, core: &Core, stale: &str, deadline: &Deadline) -> Result<String> {
        let mut guard = lock_by(&self.jwt, deadline)?;
        if let Some(current) = guard.as_ref() {
            if current.token != stale {
                return Ok(current.token.clone());
            }
        }
        log::debug!("the server refused the session token; exchanging the key again");
        let fresh = self.fresh_jwt(core, deadline)?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    /// A new JWT: exchanged at `auth/token`, with a fresh run of the command when it is
    /// the exchange's source (a command that prints a JWT needs no exchange).
    fn fresh_jwt(&self, core: &Core, deadline: &Deadline) -> Result<Jwt> {
        if self.exchange_via_command.load(Ordering::SeqCst) {
            if let Some(command) = &self.command {
                let credential = command.fetch(deadline)?;
                if credential.starts_with("eyJ") {
                    return Ok(Jwt {
                        exp: jwt_exp(&credential),
                        token: credential,
                    });
                }
                *lock_by(&self.handshake, deadline)? = Some(credential);
            }
        }
        exchange(core, deadline)
    }
}

/// Takes `mutex`, waiting at most until `deadline`: another line refreshing the credential
/// (a slow command, a slow exchange) must not hold this one past its own deadline.
fn lock_by<'a, T>(mutex: &'a Mutex<T>, deadline: &Deadline) -> Result<MutexGuard<'a, T>> {
    loop {
        match mutex.try_lock() {
            Ok(guard) => return Ok(guard),
            Err(TryLockError::Poisoned(e)) => return Ok(e.into_inner()),
            Err(TryLockError::WouldBlock) => {
                let wait = deadline.cap(Duration::from_millis(5));
                if wait.is_zero() {
                    return Err(deadline.timeout_error("waiting for the session credential"));
                }
                std::thread::sleep(wait);
            }
        }
    }
}

fn exchange(core: &Core, deadline: &Deadline) -> Result<Jwt> {
    // The transport registers the token before it logs anything about the answer.
    let req = Request::post("/api/v1/auth/token", b"{}".to_vec()).secret_answer(&["jwt"]);
    let value = core.setup_json_by(EXCHANGE_STEP, &req, true, deadline)?;
    let token = value
        .get("jwt")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| status::bad_answer(EXCHANGE_STEP, "no \"jwt\" field", None))?
        .to_string();
    crate::redact::register_secret(&token);
    Ok(Jwt {
        exp: jwt_exp(&token),
        token,
    })
}

/// An error for a refused credential, naming what was refused but never its value.
pub(crate) fn refused(step: &str, status: u16, body: &[u8]) -> Error {
    let mut message = format!("{step} failed: the server refused the credential (HTTP {status})");
    if let Some(text) = status::server_text(body) {
        message.push_str(&format!(": \"{text}\""));
    }
    Error::Auth {
        message,
        hint: Some(
            "check the credential (--api-key, TINKER_API_KEY, TINKER_CREDENTIAL_CMD or \
             ~/.tinker/credentials.json)"
                .to_string(),
        ),
    }
}
