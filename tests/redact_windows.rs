//! Redaction by 8-byte windows: seeded random keys, cut into random pieces (any offset, at least
//! 8 bytes) with line breaks, whitespace and escapes inserted, never survive a scrub; and a
//! megabyte of text scrubs quickly.

use std::time::{Duration, Instant};

use tinkex::redact::{register_secret, scrub, MASK};

/// splitmix64: a tiny seeded generator, so a failure names a case that can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
/// What may sit between the characters of a leaked key: raw breaks, blanks and escapes.
const SEPARATORS: &[&str] = &[
    "\n", "\r\n", " ", "\t", "\\n", "\\r\\n", "\\u{a}", "\\u000a", "\\\\n", "\\t", "\n  ",
];
/// Surrounding text made of characters no key holds, so it must come out unchanged.
const AROUND: &[&str] = &["~", "!", "@", "#", "%", "=", ":", ";", ",", "(", ")"];

fn random_key(rng: &mut Rng) -> String {
    let body: String = (0..36)
        .map(|_| KEY_CHARS[rng.below(KEY_CHARS.len())] as char)
        .collect();
    format!("tml-{body}")
}

/// `text` with whitespace and the separators above taken out: what a reader would join up.
fn joined(text: &str) -> String {
    let mut out = text.to_string();
    for separator in SEPARATORS.iter().rev() {
        out = out.replace(separator.trim(), "");
    }
    out.split_whitespace().collect()
}

#[test]
fn random_pieces_of_random_keys_never_survive_a_scrub() {
    let mut rng = Rng(0x7e57_2023);
    for case in 0..400 {
        let key = random_key(&mut rng);
        register_secret(&key);
        let start = rng.below(key.len() - 8);
        let len = 8 + rng.below(key.len() - start - 8 + 1);
        let mut piece = String::new();
        for (i, c) in key[start..start + len].chars().enumerate() {
            if i > 0 && rng.below(3) == 0 {
                piece.push_str(rng.pick(SEPARATORS));
            }
            piece.push(c);
        }
        let before: String = (0..rng.below(6)).map(|_| rng.pick(AROUND)).collect();
        let after: String = (0..rng.below(6)).map(|_| rng.pick(AROUND)).collect();
        let text = format!("{before}{piece}{after}");
        let shown = scrub(&text).into_owned();
        let visible = joined(&shown);
        for window in key.as_bytes().windows(8) {
            let window = std::str::from_utf8(window).unwrap();
            assert!(
                !visible.contains(window),
                "case {case}: {window:?} of {key:?} survives in {shown:?} (from {text:?})"
            );
        }
        assert!(shown.contains(MASK), "case {case}: {text:?}");
        assert!(
            shown.starts_with(&before) && shown.ends_with(&after),
            "case {case}: text around the key changed: {text:?} → {shown:?}"
        );
    }
}

#[test]
fn a_megabyte_scrubs_quickly() {
    let mut rng = Rng(0x1_4e6a);
    let keys: Vec<String> = (0..8).map(|_| random_key(&mut rng)).collect();
    for key in &keys {
        register_secret(key);
    }
    let mut text = String::with_capacity(1 << 20);
    while text.len() < 1 << 20 {
        match rng.below(200) {
            0 => text.push_str(&keys[rng.below(keys.len())][5..25]),
            1..10 => text.push('\n'),
            _ => text.push(KEY_CHARS[rng.below(KEY_CHARS.len())] as char),
        }
    }
    let started = Instant::now();
    let shown = scrub(&text);
    let took = started.elapsed();
    eprintln!("scrubbing {} bytes took {took:?}", text.len());
    assert!(shown.contains(MASK));
    // Generous for an unoptimized build on a shared 2-core machine; linear work is ~10 ms.
    assert!(took < Duration::from_secs(2), "{took:?}");
}
