//! The binary cache file: its header, its sections, and a bounds-checked view over its bytes.
//!
//! All integers are little-endian. The header (128 bytes) says what the file was built
//! from; the body holds length-prefixed sections, each padded to 8 bytes:
//! skeleton JSON, token offsets, token bytes, merge triples, merges grouped by result
//! (offsets, ranks) and the lookup table. The body carries an xxh3 checksum, so a
//! flipped byte is caught before it can change an id.

use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// Bumped whenever the layout or the meaning of any section changes.
pub const FORMAT_VERSION: u32 = 2;

/// The `tokenizers` crate whose behaviour the cache mirrors (a test checks Cargo.lock).
pub const TOKENIZERS_VERSION: &str = "0.23.2";

pub(super) const MAGIC: &[u8; 8] = b"TINKEXTK";
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 128;
const SECTIONS: usize = 7;

/// Header flag: the self-check failed, so this tokenizer always uses the full path.
pub const FLAG_FULL_ONLY: u32 = 1;

/// Table slot value marking a string that is only a prefix of tokens, not a token.
pub const PREFIX_ONLY: u32 = u32::MAX;

/// What identifies the source `tokenizer.json` on disk without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceStat {
    /// File length in bytes.
    pub len: u64,
    /// Modification time, seconds and nanoseconds.
    pub mtime: (i64, u32),
    /// Status-change time; unlike mtime no tool can set it back.
    pub ctime: (i64, u32),
    /// Inode number.
    pub ino: u64,
    /// Device number.
    pub dev: u64,
}

/// The decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `FLAG_*` bits.
    pub flags: u32,
    /// xxh3-128 of the source bytes.
    pub content_hash: u128,
    /// Unused since format 2 (zero): a content entry may serve many paths, so each
    /// path's stat lives in its own path record.
    pub stat: SourceStat,
}

/// Content hash of a `tokenizer.json`.
pub fn content_hash(bytes: &[u8]) -> u128 {
    xxh3_128(bytes)
}

/// The tables a cache body is written from.
pub struct Tables {
    /// The tokenizer.json without the model's vocab and merges.
    pub skeleton: Vec<u8>,
    /// `n + 1` offsets into `token_bytes`; token `id` is `offsets[id]..offsets[id + 1]`.
    pub token_offsets: Vec<u32>,
    /// All token strings, in id order.
    pub token_bytes: Vec<u8>,
    /// `(left, right, result)` ids, in rank order.
    pub merges: Vec<[u32; 3]>,
    /// `n + 1` offsets into `merge_ranks`, grouping merges by result id.
    pub merge_offsets: Vec<u32>,
    /// Merge ranks grouped by result id, ascending within a group.
    pub merge_ranks: Vec<u32>,
    /// Open-addressing table: `(hash tag, value)` pairs; value 0 empty, `id + 1` or `PREFIX_ONLY`.
    pub slots: Vec<[u32; 2]>,
}

/// A whole cache file: header plus body (or header only when `FLAG_FULL_ONLY`).
pub fn encode_file(header: &Header, tables: Option<&Tables>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(t) = tables {
        push_section(&mut body, &t.skeleton);
        push_section(&mut body, &u32_bytes(&t.token_offsets));
        push_section(&mut body, &t.token_bytes);
        push_section(&mut body, &u32_bytes(t.merges.iter().flatten()));
        push_section(&mut body, &u32_bytes(&t.merge_offsets));
        push_section(&mut body, &u32_bytes(&t.merge_ranks));
        push_section(&mut body, &u32_bytes(t.slots.iter().flatten()));
    }
    let mut out = encode_header(header, &body);
    out.extend_from_slice(&body);
    out
}

/// The header bytes for `header` over `body`.
fn encode_header(header: &Header, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&header.flags.to_le_bytes());
    let mut version = [0u8; 16];
    version[..TOKENIZERS_VERSION.len()].copy_from_slice(TOKENIZERS_VERSION.as_bytes());
    out.extend_from_slice(&version);
    out.extend_from_slice(&header.content_hash.to_le_bytes());
    let s = &header.stat;
    out.extend_from_slice(&s.len.to_le_bytes());
    out.extend_from_slice(&s.mtime.0.to_le_bytes());
    out.extend_from_slice(&s.mtime.1.to_le_bytes());
    out.extend_from_slice(&s.ctime.1.to_le_bytes());
    out.extend_from_slice(&s.ctime.0.to_le_bytes());
    out.extend_from_slice(&s.ino.to_le_bytes());
    out.extend_from_slice(&s.dev.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_64(body).to_le_bytes());
    out.resize(HEADER_LEN, 0);
    out
}

fn push_section(body: &mut Vec<u8>, bytes: &[u8]) {
    body.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    body.extend_from_slice(bytes);
    body.resize(body.len().next_multiple_of(8), 0);
}

fn u32_bytes<'a>(values: impl IntoIterator<Item = &'a u32>) -> Vec<u8> {
    values.into_iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Reads the header, checking magic, format and crate version; `None` for a foreign or short file.
pub fn read_header(file: &[u8]) -> Option<Header> {
    let h = file.get(..HEADER_LEN)?;
    let mut version = [0u8; 16];
    version[..TOKENIZERS_VERSION.len()].copy_from_slice(TOKENIZERS_VERSION.as_bytes());
    if &h[..8] != MAGIC || le_u32(h, 8)? != FORMAT_VERSION || h[16..32] != version {
        return None;
    }
    Some(Header {
        flags: le_u32(h, 12)?,
        content_hash: u128::from_le_bytes(h[32..48].try_into().ok()?),
        stat: SourceStat {
            len: le_u64(h, 48)?,
            mtime: (le_u64(h, 56)? as i64, le_u32(h, 64)?),
            ctime: (le_u64(h, 72)? as i64, le_u32(h, 68)?),
            ino: le_u64(h, 80)?,
            dev: le_u64(h, 88)?,
        },
    })
}

/// The whole file length a header declares (header plus body); `None` if it overflows.
pub fn declared_len(header: &[u8]) -> Option<u64> {
    le_u64(header, 96)?.checked_add(HEADER_LEN as u64)
}

/// Byte ranges of the sections of a checked body.
#[derive(Debug, Clone)]
pub struct Layout {
    sections: [std::ops::Range<usize>; SECTIONS],
    /// Number of vocabulary ids.
    pub vocab: usize,
    /// Number of table slots (a power of two).
    pub slots: usize,
}

/// Checks the body's length, checksum and section sizes; `None` when anything is off.
pub fn check_body(file: &[u8]) -> Option<Layout> {
    let body_len = usize::try_from(le_u64(file, 96)?).ok()?;
    let body = file.get(HEADER_LEN..)?;
    if body.len() != body_len || xxh3_64(body) != le_u64(file, 104)? {
        return None;
    }
    let mut at = HEADER_LEN;
    let mut sections: [std::ops::Range<usize>; SECTIONS] = Default::default();
    for range in sections.iter_mut() {
        let len = usize::try_from(le_u64(file, at)?).ok()?;
        let start = at + 8;
        let end = start.checked_add(len)?;
        if end > file.len() {
            return None;
        }
        *range = start..end;
        at = end.next_multiple_of(8);
    }
    let len = |i: usize| sections[i].len();
    let vocab = (len(1) / 4).checked_sub(1)?;
    let merges = len(3) / 12;
    let slots = len(6) / 8;
    let sizes_agree = len(1) % 4 == 0
        && len(3) % 12 == 0
        && len(4) == (vocab + 1) * 4
        && len(5) == merges * 4
        && len(6) % 8 == 0
        && slots.is_power_of_two();
    sizes_agree.then_some(Layout {
        sections,
        vocab,
        slots,
    })
}

impl Layout {
    /// The bytes of section `i` of `file`.
    pub fn section<'a>(&self, file: &'a [u8], i: usize) -> &'a [u8] {
        file.get(self.sections[i].clone()).unwrap_or_default()
    }
}

/// Section indexes, in file order.
pub mod section {
    /// Skeleton JSON.
    pub const SKELETON: usize = 0;
    /// Token offsets.
    pub const TOKEN_OFFSETS: usize = 1;
    /// Token bytes.
    pub const TOKEN_BYTES: usize = 2;
    /// Merge triples.
    pub const MERGES: usize = 3;
    /// Merge-group offsets by result id.
    pub const MERGE_OFFSETS: usize = 4;
    /// Merge ranks grouped by result id.
    pub const MERGE_RANKS: usize = 5;
    /// Lookup table.
    pub const SLOTS: usize = 6;
}

/// The little-endian u32 at byte `at`, if in bounds.
pub fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// The little-endian u64 at byte `at`, if in bounds.
pub fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}
