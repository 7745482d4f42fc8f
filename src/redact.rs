//! Keeps credentials out of everything tinkex writes: no 8-byte window of a registered secret
//! (API key, JWT, `HF_TOKEN`) survives a [`scrub`], from anywhere in the secret and across line
//! breaks, whitespace and escapes (`\n`, `\u{a}`); JWT-shaped text is masked without
//! registration; and server text is made safe to show.
//!
//! How: every 8-byte window of every secret (separators removed) is packed into a `u64` and
//! kept in one set. A scrub walks the text once, skipping separators, shifting each kept byte
//! into a rolling `u64`, and looks that up: one hash probe per byte, exact (8 bytes fit in a
//! `u64`, so there are no false matches), about linear in the text's length.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::RwLock;

/// Every 8-byte window of every registered secret, packed little-endian into a `u64`.
/// Process-wide, because the logger that prints a line cannot know which client logged it.
static WINDOWS: RwLock<Option<Windows>> = RwLock::new(None);

/// Bits in the filter that answers most lookups before the set is asked.
const FILTER_BITS: usize = 1 << 16;

/// The registered windows: an exact set, and a one-hash bit filter in front of it (most
/// text holds no secret, so most bytes cost one multiply and one bit test).
#[derive(Default)]
struct Windows {
    set: HashSet<u64, BuildHasherDefault<WindowHasher>>,
    filter: Vec<u64>,
}

impl Windows {
    fn slot(window: u64) -> usize {
        (window.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
    }

    fn insert(&mut self, window: u64) {
        if self.filter.is_empty() {
            self.filter = vec![0; FILTER_BITS / 64];
        }
        let slot = Self::slot(window);
        self.filter[slot / 64] |= 1 << (slot % 64);
        self.set.insert(window);
    }

    fn contains(&self, window: u64) -> bool {
        let slot = Self::slot(window);
        self.filter[slot / 64] & (1 << (slot % 64)) != 0 && self.set.contains(&window)
    }
}

/// What a secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// The window size: secrets shorter than this are not registered (masking them would garble
/// ordinary text), and no run of this many bytes of a secret may appear in output.
const WINDOW: usize = 8;

/// Server text shown to a person or written to a journal is cut to this many characters.
pub const MAX_SERVER_TEXT: usize = 1000;

/// Multiplicative hashing is enough: the keys are already 8 bytes of a secret, not attacker-
/// chosen collisions against a known seed that could matter (a collision costs one compare).
#[derive(Default)]
struct WindowHasher(u64);

impl Hasher for WindowHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, value: u64) {
        let mixed = (value ^ (value >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        self.0 = mixed ^ (mixed >> 32);
    }
}

/// Remembers `secret` (an API key, a JWT, a token) so that [`scrub`] masks it from now on.
pub fn register_secret(secret: &str) {
    let kept: Vec<u8> = kept_bytes(secret.as_bytes()).map(|(_, b)| b).collect();
    if kept.len() < WINDOW {
        return;
    }
    let mut guard = WINDOWS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let windows = guard.get_or_insert_with(Windows::default);
    for window in kept.windows(WINDOW) {
        let mut packed = [0u8; WINDOW];
        packed.copy_from_slice(window);
        windows.insert(u64::from_le_bytes(packed));
    }
}

/// `text` with every run that holds an 8-byte window of a registered secret (separators
/// between its bytes ignored) and every JWT-shaped token replaced by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let ranges = {
        let guard = WINDOWS
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_ref() {
            Some(windows) if !windows.set.is_empty() => secret_ranges(text.as_bytes(), windows),
            _ => Vec::new(),
        }
    };
    let mut result = match ranges.is_empty() {
        true => Cow::Borrowed(text),
        false => Cow::Owned(mask_ranges(text, &ranges)),
    };
    if result.contains("eyJ") {
        result = Cow::Owned(hide_jwts(&result));
    }
    result
}

/// The bytes of `text` that are not separators, with their offsets.
fn kept_bytes(text: &[u8]) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < text.len() {
            let skip = separator_len(text, at);
            if skip == 0 {
                at += 1;
                return Some((at - 1, text[at - 1]));
            }
            at += skip;
        }
        None
    })
}

/// The byte ranges of `text` that hold a window of a secret: from the first to the last byte
/// of each run of overlapping matched windows (the separators inside included).
fn secret_ranges(text: &[u8], windows: &Windows) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut starts = [0usize; WINDOW];
    let mut kept = 0usize;
    let mut rolling = 0u64;
    let mut at = 0;
    while at < text.len() {
        let byte = text[at];
        // Most bytes are plain: only those that may start a separator take the slow look.
        if !PLAIN[usize::from(byte)] {
            let skip = separator_len(text, at);
            if skip > 0 {
                at += skip;
                continue;
            }
        }
        rolling = (rolling >> 8) | (u64::from(byte) << 56);
        starts[kept % WINDOW] = at;
        kept += 1;
        if kept >= WINDOW && windows.contains(rolling) {
            // The oldest of the last eight kept bytes sits in the slot written next.
            let start = starts[kept % WINDOW];
            match ranges.last_mut() {
                Some(last) if start <= last.1 => last.1 = at + 1,
                _ => ranges.push((start, at + 1)),
            }
        }
        at += 1;
    }
    ranges
}

/// Bytes that can never start a separator (see [`separator_len`]).
static PLAIN: [bool; 256] = {
    let mut plain = [true; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        plain[b] = !(byte.is_ascii_whitespace() || byte < 0x20 || byte == 0x7f || byte == b'\\');
        b += 1;
    }
    plain
};

/// How many bytes at `at` are a separator that may sit inside a leaked secret: whitespace or
/// a control byte, or an escape of one (`\n`, `\\r`, `\t`, `\0`, `\u{a}`, `\u000a`, `\x0a`).
fn separator_len(text: &[u8], at: usize) -> usize {
    let byte = text[at];
    if byte.is_ascii_whitespace() || byte < 0x20 || byte == 0x7f {
        return 1;
    }
    if byte != b'\\' {
        return 0;
    }
    let mut next = at;
    while text.get(next) == Some(&b'\\') {
        next += 1;
    }
    let hex_run = |from: usize, max: usize| {
        text[from.min(text.len())..]
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_hexdigit())
            .count()
    };
    let escape = match text.get(next) {
        Some(b'n' | b'r' | b't' | b'0' | b'f' | b'v') => 1,
        Some(b'u') if text.get(next + 1) == Some(&b'{') => {
            let digits = hex_run(next + 2, 6);
            match (digits, text.get(next + 2 + digits)) {
                (1.., Some(b'}')) => digits + 3,
                _ => 0,
            }
        }
        Some(b'u') if hex_run(next + 1, 4) == 4 => 5,
        Some(b'x') if hex_run(next + 1, 2) == 2 => 3,
        _ => 0,
    };
    match escape {
        0 => 0,
        n => next - at + n,
    }
}

/// `text` with each of `ranges` (sorted, byte offsets) widened to whole characters and
/// replaced by [`MASK`]; ranges that touch after widening become one mask.
fn mask_ranges(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for &(mut start, mut end) in ranges {
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if start < copied {
            // Overlaps the previous mask once widened: it already covers this part.
            copied = copied.max(end);
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
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

/// Whether `c` is an invisible format character that can reorder or hide what a terminal
/// shows (bidi overrides and isolates such as U+202E, zero-width characters, line and
/// paragraph separators): shown as an escape, like a control character.
pub fn is_format_control(c: char) -> bool {
    matches!(
        c as u32,
        0x061C | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFB
    )
}

/// `text` with every control character except tab, and every [`is_format_control`]
/// character, written as an escape (`\n`, `\u{1b}`, `\u{202e}`).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() && c != '\t') || is_format_control(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
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
    fn pieces_from_anywhere_in_a_key_are_masked() {
        let key = "tml-abcdefghijklmnopqrstuvwxyz0123456789";
        register_secret(key);
        assert_eq!(
            scrub("key ending qrstuvwxyz0123456789 revoked"),
            "key ending [REDACTED] revoked"
        );
        assert_eq!(scrub("mid mnopqrst."), "mid [REDACTED].");
        // Seven bytes from the middle are ordinary text.
        assert_eq!(scrub("mnopqrs"), "mnopqrs");
    }

    #[test]
    fn pieces_split_by_line_breaks_whitespace_or_escapes_are_masked() {
        register_secret("tml-ABCDEFGHIJKLMNOPQRSTUVWXYZ9876543210");
        for text in [
            "tml-AB\nCDEFGHIJKLMNOPQRSTUVWXYZ9876543210",
            r"tml-AB\nCDEFGHIJKLMNOPQRSTUVWXYZ9876543210",
            "tml-AB\r\nCDEFGHIJ KLMNOPQRST\tUVWXYZ98\u{a}76543210",
            r"tml-AB\r\nCDEFGHIJ KLMNOPQRST\tUVWXYZ98\u{a}76543210",
            r"tml-AB\\nCDEFGH\u000aIJKLMN\x0aOPQRS",
            "tml-AB\r\n  CDEFGHIJ",
        ] {
            let shown = scrub(text);
            assert_eq!(shown, MASK, "{text:?} became {shown:?}");
        }
        // Text around a split key stays, and so do separators outside it.
        assert_eq!(
            scrub(r"401: \nKLMNOP\nQRSTUV\n end"),
            r"401: \n[REDACTED]\n end"
        );
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
