//! Reading a JWT without verifying it: only its `exp` claim, to refresh it in time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};
use serde_json::Value;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// Whether `exp` falls within the next `secs` seconds (no `exp`: never).
pub(crate) fn expires_within(exp: Option<u64>, secs: u64) -> bool {
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

/// base64url as JWT segments are written: padding optional, stray low bits ignored.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a base64url segment; the standard alphabet's `+` and `/` are read too.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.replace('+', "-").replace('/', "_");
    URL_SAFE_LENIENT.decode(text).ok()
}

/// Builds a JWT-shaped token with the given `exp` (unsigned).
#[cfg(test)]
pub(crate) fn unsigned_jwt(exp: u64) -> String {
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
