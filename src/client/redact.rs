//! Keeps credentials out of logged text: known secrets and anything shaped like a JWT.

use std::sync::{Arc, RwLock};

/// Replaces registered secrets and JWT-shaped tokens with `[REDACTED]`.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// Registers a secret (the API key, each JWT) to hide from now on.
    pub(crate) fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        if let Ok(mut list) = self.secrets.write() {
            if !list.iter().any(|s| s == secret) {
                list.push(secret.to_string());
            }
        }
    }

    /// `text` with every secret and JWT-shaped token replaced.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Ok(list) = self.secrets.read() {
            for secret in list.iter() {
                out = out.replace(secret.as_str(), "[REDACTED]");
            }
        }
        hide_jwts(&out)
    }
}

/// A JWT starts `eyJ` and is made of base64url characters and dots.
fn hide_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        out.push_str("[REDACTED]");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_secrets_and_jwts() {
        let r = Redactor::default();
        r.add("tml-secret");
        let text = r.redact(r#"key tml-secret and {"jwt":"eyJhbGc.eyJleHAi.sig-_x"} end"#);
        assert_eq!(text, r#"key [REDACTED] and {"jwt":"[REDACTED]"} end"#);
    }
}
