//! Deterministic random text for fast-vs-full parity: mixed scripts, whitespace runs,
//! digits, emoji, special-token text, code and long words. Shared by the test suite and
//! `examples/parity_fast.rs` (which includes this file by path).

/// A small xorshift generator: reproducible from a seed, no dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "tokenizer",
    "Hello",
    "world",
    "sampling",
    "don't",
    "we'll",
    "I'M",
    "naïve",
    "café",
    "über",
    "straße",
    "résumé",
    "ﬁnance",
    "e\u{301}",
    "Ω",
    "λx",
    "π",
    "HTTP",
    "JSON",
    "snake_case",
    "camelCase",
    "kebab-case",
    "C++",
    "x86_64",
    "self.model",
    "<html>",
    "&amp;",
];
const SCRIPTS: &[&str] = &[
    "今天天气很好",
    "我们去公园散步吧",
    "こんにちは世界",
    "カタカナ",
    "안녕하세요",
    "Привет",
    "мир",
    "مرحبا",
    "שלום",
    "नमस्ते",
    "สวัสดี",
    "Γειά σου",
    "ქართული",
    "ቋንቋ",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "𓀀𓀁",
];
const EMOJI: &[&str] = &["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🤖", "✨", "🧑🏿‍🚀", "☕"];
const SPACES: &[&str] = &[
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u{a0}", "\u{3000}",
];
const PUNCT: &[&str] = &[
    ".", ",", "!", "?", ";", ":", "...", "—", "(", ")", "{", "}", "[", "]", "\"", "'", "->", "=>",
    "==", "//", "#", "@", "$", "%", "^", "*", "~", "`", "|", "\\",
];
const SPECIAL: &[&str] = &[
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<think>",
    "</think>",
    "<|fim_prefix|>",
    "<|im_start",
    "im_end|>",
    "<|vision_pad|>",
];

/// One random string of about `parts` pieces.
pub fn random_text(rng: &mut Rng, parts: usize) -> String {
    let mut out = String::new();
    for _ in 0..parts {
        match rng.below(20) {
            0..=5 => out.push_str(rng.pick(WORDS)),
            6..=8 => out.push_str(rng.pick(SCRIPTS)),
            9 => out.push_str(rng.pick(EMOJI)),
            10..=12 => out.push_str(&" ".repeat(1 + rng.below(3))),
            13 => out.push_str(&rng.pick(SPACES).repeat(1 + rng.below(4))),
            14 => out.push_str(&rng.next().to_string()[..1 + rng.below(12)]),
            15 => out.push_str(rng.pick(PUNCT)),
            16 => out.push_str(rng.pick(SPECIAL)),
            17 => out.push_str(&long_word(rng)),
            18 => out.push(random_char(rng)),
            _ => out.push_str(&rng.pick(WORDS).to_uppercase()),
        }
    }
    out
}

/// A long unbroken word glued from pieces (no spaces), up to a few hundred bytes.
fn long_word(rng: &mut Rng) -> String {
    let mut word = String::new();
    for _ in 0..2 + rng.below(30) {
        let piece = match rng.below(4) {
            0 => rng.pick(SCRIPTS),
            _ => rng.pick(WORDS),
        };
        word.push_str(piece);
    }
    word.replace([' ', '\''], "")
}

/// Any Unicode scalar value, weighted towards the ranges text actually uses.
fn random_char(rng: &mut Rng) -> char {
    let max = match rng.below(4) {
        0 => 0x80,
        1 => 0x800,
        2 => 0x10000,
        _ => 0x110000,
    };
    loop {
        if let Some(c) = char::from_u32(rng.below(max) as u32) {
            return c;
        }
    }
}
