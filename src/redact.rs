//! Keeps credentials out of every printed or logged line (registered secrets, any 8+-character
//! prefix of one, and anything shaped like a JWT), and makes server text safe to show.

use std::borrow::Cow;
use std::sync::RwLock;

/// Process-wide, because the logger that prints a line cannot know which client logged it.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Secrets shorter than this are not registered: masking them would garble ordinary text.
/// It is also the shortest prefix of a secret that is masked where it appears cut off.
const MIN_SECRET_LEN: usize = 8;

/// Server text shown to a person or written to a journal is cut to this many characters.
pub const MAX_SERVER_TEXT: usize = 1000;

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

/// `text` with every registered secret, every 8+-byte prefix of one (a secret cut short, by
/// us or by the server) and every JWT-shaped token replaced by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut result = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if let Some(masked) = mask_prefixes(&result, secret) {
            result = Cow::Owned(masked);
        }
    }
    if result.contains("eyJ") {
        result = Cow::Owned(hide_jwts(&result));
    }
    result
}

/// Server text (an error's `detail`, a queue reason, a body preview) ready for a terminal or
/// the journal: secrets scrubbed first, then control characters other than tab escaped (so
/// ANSI/OSC sequences cannot rewrite the terminal), then cut to [`MAX_SERVER_TEXT`] characters.
/// Scrubbing before cutting means a secret can never survive as a cut-off prefix.
pub fn server_text(text: &str) -> String {
    let scrubbed = scrub(text);
    let escaped = escape_controls(&scrubbed);
    cut(&escaped, MAX_SERVER_TEXT)
}

/// `text` with every control character except tab written as an escape (`\n`, `\u{1b}`).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The first `max` characters of `text`, with `…` when something was cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `text` with each run that matches `secret` from its start for at least
/// [`MIN_SECRET_LEN`] bytes masked; `None` when there is none.
fn mask_prefixes(text: &str, secret: &str) -> Option<String> {
    let head_len = (MIN_SECRET_LEN..=secret.len()).find(|&i| secret.is_char_boundary(i))?;
    let head = &secret[..head_len];
    let mut out: Option<String> = None;
    let mut copied = 0;
    while let Some(found) = text[copied..].find(head) {
        let start = copied + found;
        let same = text.as_bytes()[start..]
            .iter()
            .zip(secret.as_bytes())
            .take_while(|(a, b)| a == b)
            .count();
        // The secret's bytes may end inside a character of `text`: mask that character too.
        let mut end = start + same;
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let masked = out.get_or_insert_with(|| String::with_capacity(text.len()));
        masked.push_str(&text[copied..start]);
        masked.push_str(MASK);
        copied = end;
    }
    out.map(|mut masked| {
        masked.push_str(&text[copied..]);
        masked
    })
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
    fn prefixes_of_eight_or_more_bytes_are_masked() {
        register_secret("tml-prefix-secret-abcdefgh");
        assert_eq!(scrub("cut: tml-pref…"), "cut: [REDACTED]…");
        assert_eq!(scrub("x tml-prefix-sec y"), "x [REDACTED] y");
        // Seven bytes of it are ordinary text.
        assert_eq!(scrub("tml-pre"), "tml-pre");
        // A prefix followed by other text masks only the matching part.
        assert_eq!(scrub("tml-prefixZZ"), "[REDACTED]ZZ");
    }

    #[test]
    fn non_ascii_secrets_are_masked_on_character_boundaries() {
        // The first 8 bytes are "ab€cde" (the euro sign is 3 bytes).
        register_secret("ab\u{20ac}cdefgh-unicode-secret");
        assert_eq!(scrub("x ab\u{20ac}cdefgX"), "x [REDACTED]X");
        assert_eq!(scrub("ab\u{20ac}cd\u{20ac}"), "ab\u{20ac}cd\u{20ac}");
        // Four 3-byte characters: the first boundary at or past 8 bytes is 9.
        register_secret("\u{20ac}\u{20ac}\u{20ac}\u{20ac}");
        assert_eq!(scrub("<\u{20ac}\u{20ac}\u{20ac}>"), "<[REDACTED]>");
        assert_eq!(scrub("<\u{20ac}\u{20ac}>"), "<\u{20ac}\u{20ac}>");
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

    #[test]
    fn control_characters_other_than_tab_are_escaped() {
        assert_eq!(
            escape_controls("a\tb\nc\r\u{1b}[31mred\u{7}\u{9b}"),
            "a\tb\\nc\\r\\u{1b}[31mred\\u{7}\\u{9b}"
        );
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn server_text_scrubs_then_escapes_then_cuts() {
        let key = "tml-server-text-secret-0123456789";
        register_secret(key);
        // The key straddles the 1,000-character cut: scrubbed whole before the cut.
        let text = format!("{}{key}{}", "x".repeat(990), "y".repeat(50));
        let shown = server_text(&text);
        assert!(!shown.contains("tml-serv"), "{shown}");
        assert!(shown.starts_with(&format!("{}{MASK}", "x".repeat(990))));
        assert!(shown.ends_with('…'));
        assert_eq!(shown.chars().count(), MAX_SERVER_TEXT + 1);
        // Escapes count towards the cap, and no raw ESC survives.
        let shown = server_text(&"\u{1b}".repeat(2000));
        assert!(!shown.contains('\u{1b}'));
        assert_eq!(shown.chars().count(), MAX_SERVER_TEXT + 1);
        assert_eq!(
            server_text("short\u{1b}]0;title\u{7}"),
            "short\\u{1b}]0;title\\u{7}"
        );
    }
}
