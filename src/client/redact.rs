//! The client's handle on the process-wide secret scrubber (see [`crate::redact`]).

/// Registers the secrets a client holds and scrubs text it logs or quotes.
#[derive(Clone, Copy, Default)]
pub(crate) struct Redactor;

impl Redactor {
    /// Registers a secret (the API key, each JWT) to hide from now on, everywhere.
    pub(crate) fn add(&self, secret: &str) {
        crate::redact::register_secret(secret);
    }

    /// `text` with every secret and JWT-shaped token replaced.
    pub(crate) fn redact(&self, text: &str) -> String {
        crate::redact::scrub(text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_secrets_and_jwts() {
        let r = Redactor;
        r.add("tml-secret-for-redactor");
        let text =
            r.redact(r#"key tml-secret-for-redactor and {"jwt":"eyJhbGc.eyJleHAi.sig-_x"} end"#);
        assert_eq!(text, r#"key [REDACTED] and {"jwt":"[REDACTED]"} end"#);
    }
}
