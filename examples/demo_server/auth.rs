//! Credential checks on every call, and the fake (but well-formed) JWTs `auth/token` issues.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::faults::Endpoint;
use super::reply::{Answer, Call};

/// The JWTs issued so far, with their `exp` (Unix seconds).
#[derive(Debug, Default)]
pub struct Jwts(Mutex<HashMap<String, u64>>);

impl Jwts {
    /// Issues a new JWT valid for `ttl_secs`.
    pub fn issue(&self, ttl_secs: u64) -> String {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let iat = now_secs();
        let n = map.len() as u64 + 1;
        let payload = json!({"sub": "tinkex-demo", "iat": iat, "exp": iat + ttl_secs, "jti": n});
        let sig: Vec<u8> = (0..4u64)
            .flat_map(|i| {
                (iat ^ (n << 32) ^ i)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .to_le_bytes()
            })
            .collect();
        let jwt = format!(
            "{}.{}.{}",
            base64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            base64url(payload.to_string().as_bytes()),
            base64url(&sig)
        );
        map.insert(jwt.clone(), iat + ttl_secs);
        jwt
    }

    fn exp(&self, jwt: &str) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(jwt)
            .copied()
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Unpadded base64url, as JWTs use.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn unauthorized(detail: &str) -> Answer {
    Answer::detail(401, detail)
}

/// A 401 that tells a JWT client to exchange its key again and replay.
fn invalid_token(detail: &str) -> Answer {
    unauthorized(detail).with_header("WWW-Authenticate", r#"Bearer error="invalid_token""#)
}

/// Checks the call's credential; details never echo it.
pub fn check(
    jwts: &Jwts,
    jwt_mode: bool,
    require_key: Option<&str>,
    endpoint: Endpoint,
    call: &Call,
) -> Result<(), Answer> {
    if call.header("authorization").is_some() {
        return Err(Answer::detail(
            400,
            "send the credential in X-API-Key, not Authorization",
        ));
    }
    let key = call
        .header("x-api-key")
        .ok_or_else(|| unauthorized("missing X-API-Key header"))?;
    // In JWT mode only config and auth/token take the raw key; everything else needs our JWT.
    let raw_ok = !jwt_mode || matches!(endpoint, Endpoint::Config | Endpoint::Auth);
    let key_matches = require_key.is_none_or(|k| k == key);
    if key.starts_with("eyJ") {
        if let Some(exp) = jwts.exp(key) {
            return if exp <= now_secs() {
                Err(invalid_token("the JWT has expired"))
            } else {
                Ok(())
            };
        }
        if !raw_ok {
            return Err(invalid_token(
                "unknown JWT: exchange the API key at /api/v1/auth/token",
            ));
        }
        return key_matches
            .then_some(())
            .ok_or_else(|| unauthorized("invalid API key"));
    }
    if !key.starts_with("tml-") {
        return Err(unauthorized(
            "invalid API key format: keys start with tml- (or are JWTs)",
        ));
    }
    if !key_matches {
        return Err(unauthorized("invalid API key"));
    }
    if !raw_ok {
        return Err(invalid_token(
            "this server needs the JWT from /api/v1/auth/token, not the API key",
        ));
    }
    Ok(())
}
