//! The credential in use: the raw key, or a JWT from `auth/token` that is
//! refreshed before it expires and after the server calls it invalid.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::client::core::Core;
use crate::client::status;
use crate::client::transport::Request;
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
    raw: String,
    jwt: Mutex<Option<Jwt>>,
}

impl Auth {
    /// Starts with the raw key; [`Auth::enable_jwt`] switches to exchanged JWTs.
    pub(crate) fn new(raw: String) -> Auth {
        Auth {
            raw,
            jwt: Mutex::new(None),
        }
    }

    /// The key as given (used for `client/config` and `auth/token`).
    pub(crate) fn raw(&self) -> &str {
        &self.raw
    }

    /// Server said `pjwt_auth_enabled`: exchange the key, unless it already is a JWT.
    pub(crate) fn enable_jwt(&self, core: &Core) -> Result<()> {
        if self.raw.starts_with("eyJ") {
            return Ok(());
        }
        let jwt = exchange(core)?;
        *self.lock() = Some(jwt);
        Ok(())
    }

    /// Whether a refreshable JWT is in use.
    pub(crate) fn uses_jwt(&self) -> bool {
        self.lock().is_some()
    }

    /// The credential for the next request, refreshing a JWT with < 60 s left.
    pub(crate) fn credential(&self, core: &Core) -> Result<String> {
        let mut guard = self.lock();
        match guard.as_ref() {
            None => Ok(self.raw.clone()),
            Some(jwt) if !expires_within(jwt.exp, 60) => Ok(jwt.token.clone()),
            Some(_) => {
                log::debug!("session token expires within 60 s; refreshing it");
                let fresh = exchange(core)?;
                let token = fresh.token.clone();
                *guard = Some(fresh);
                Ok(token)
            }
        }
    }

    /// A fresh JWT after `stale` was refused (once per stale token, whoever asks).
    pub(crate) fn refresh(&self, core: &Core, stale: &str) -> Result<String> {
        let mut guard = self.lock();
        if let Some(current) = guard.as_ref() {
            if current.token != stale {
                return Ok(current.token.clone());
            }
        }
        log::debug!("the server refused the session token; exchanging the key again");
        let fresh = exchange(core)?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Jwt>> {
        self.jwt.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn exchange(core: &Core) -> Result<Jwt> {
    let req = Request::post("/api/v1/auth/token", b"{}".to_vec());
    let value = core.setup_json(EXCHANGE_STEP, &req, true)?;
    let token = value
        .get("jwt")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| status::bad_answer(EXCHANGE_STEP, "no \"jwt\" field", None))?
        .to_string();
    core.transport.redactor.add(&token);
    Ok(Jwt {
        exp: jwt_exp(&token),
        token,
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn expires_within(exp: Option<u64>, secs: u64) -> bool {
    exp.is_some_and(|exp| exp <= now_secs() + secs)
}

/// Whether a JWT's `exp` claim has passed (a JWT without one never expires).
pub(crate) fn jwt_expired(token: &str) -> bool {
    expires_within(jwt_exp(token), 0)
}

/// The `exp` claim of a JWT, read from its base64url JSON payload.
pub(crate) fn jwt_exp(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = value.get("exp")?;
    exp.as_u64().or_else(|| exp.as_f64().map(|f| f as u64))
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Builds a JWT-shaped token with the given `exp` (unsigned).
#[cfg(test)]
fn unsigned_jwt(exp: u64) -> String {
    let enc = |bytes: &[u8]| base64url_encode(bytes);
    format!(
        "{}.{}.sig",
        enc(br#"{"alg":"none","typ":"JWT"}"#),
        enc(format!(r#"{{"exp":{exp},"iat":{}}}"#, exp.saturating_sub(3600)).as_bytes())
    )
}

#[cfg(test)]
fn base64url_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// An error for a refused credential, naming what was refused but never its value.
pub(crate) fn refused(step: &str, status: u16, body: &[u8]) -> Error {
    let mut message = format!("{step} failed: the server refused the credential (HTTP {status})");
    if let Some(text) = status::server_text(body) {
        message.push_str(&format!(": \"{text}\""));
    }
    Error::Auth {
        message,
        hint: Some("check the API key (--api-key or TINKER_API_KEY)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_from_the_payload() {
        let token = unsigned_jwt(2_000_000_000);
        assert!(token.starts_with("eyJ"));
        assert_eq!(jwt_exp(&token), Some(2_000_000_000));
        assert!(!jwt_expired(&token));
        assert!(jwt_expired(&unsigned_jwt(1000)));
        assert_eq!(jwt_exp("eyJnotajwt"), None);
        assert!(!jwt_expired("eyJ.%%%.x"));
    }

    #[test]
    fn base64url_round_trips() {
        for text in ["", "a", "ab", "abc", "abcd", "{\"exp\":1}"] {
            let enc = base64url_encode(text.as_bytes());
            assert_eq!(base64url_decode(&enc).unwrap(), text.as_bytes());
        }
    }
}
