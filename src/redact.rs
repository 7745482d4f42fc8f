//! A process-wide list of secrets that no log line may contain, and the scrubber that enforces it.

use std::borrow::Cow;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a secret is replaced with.
pub const MASK: &str = "<redacted>";

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

/// `text` with every registered secret replaced by [`MASK`].
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
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_everywhere() {
        register_secret("tml-unit-test-secret-123");
        assert_eq!(
            scrub("key=tml-unit-test-secret-123;again tml-unit-test-secret-123"),
            "key=<redacted>;again <redacted>"
        );
        assert_eq!(scrub("nothing here"), "nothing here");
    }

    #[test]
    fn short_strings_are_not_registered() {
        register_secret("abc");
        assert_eq!(scrub("abc"), "abc");
    }
}
