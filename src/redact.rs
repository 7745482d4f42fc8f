//! Keeps credentials out of every printed or logged line: registered secrets and anything shaped like a JWT.

use std::borrow::Cow;
use std::sync::RwLock;

/// Process-wide, because the logger that prints a line cannot know which client logged it.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Secrets shorter than this are not registered: masking them would garble ordinary text.
const MIN_SECRET_LEN: usize = 8;

/// Remembers `secret` (an API key, a JWT, a token) so that [`scrub`] masks it from now on.
pub fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut secrets = SECRETS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !secrets.iter().any(|known| known == secret) {
        secrets.push(secret.to_string());
    }
}

/// `text` with every registered secret and every JWT-shaped token replaced by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut result = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if result.contains(secret.as_str()) {
            result = Cow::Owned(result.replace(secret.as_str(), MASK));
        }
    }
    if result.contains("eyJ") {
        result = Cow::Owned(hide_jwts(&result));
    }
    result
}

/// A JWT starts `eyJ` (base64url of `{"`) and runs on in base64url characters and dots.
fn hide_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        out.push_str(MASK);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_everywhere() {
        register_secret("tml-unit-test-secret-123");
        assert_eq!(
            scrub("key=tml-unit-test-secret-123;again tml-unit-test-secret-123"),
            "key=[REDACTED];again [REDACTED]"
        );
        assert_eq!(scrub("nothing here"), "nothing here");
    }

    #[test]
    fn jwts_are_masked_without_registration() {
        assert_eq!(
            scrub(r#"{"jwt":"eyJhbGc.eyJleHAi.sig-_x"} end"#),
            r#"{"jwt":"[REDACTED]"} end"#
        );
    }

    #[test]
    fn short_strings_are_not_registered() {
        register_secret("abc");
        assert_eq!(scrub("abc"), "abc");
    }
}
