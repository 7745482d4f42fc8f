//! Read access to a checked cache file: token strings by id, merges by result, and the lookup table.
//!
//! Every access is bounds-checked and answers `None` instead of panicking; the body
//! checksum already rules out damage, so a `None` here means a foreign writer.

use std::ops::Deref;

use super::format::{self, le_u32, section, Layout, PREFIX_ONLY};

/// The bytes of a cache file: a read-only memory map, or a buffer just built.
pub enum Backing {
    /// The cache file, mapped read-only.
    Mapped(memmap2::Mmap),
    /// A cache built in this process (cold run, or no usable cache directory).
    Owned(Vec<u8>),
}

impl Deref for Backing {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Backing::Mapped(map) => map,
            Backing::Owned(bytes) => bytes,
        }
    }
}

/// The tables of one cache file.
pub struct Table {
    backing: Backing,
    layout: Layout,
    max_token_len: std::sync::OnceLock<usize>,
}

/// What the lookup table knows about a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The string's id, when it is a vocabulary token.
    pub token: Option<u32>,
    /// False only when no token starts with the string (longer strings need not be tried).
    pub maybe_prefix: bool,
}

/// FNV-1a offset basis: the state of the empty string.
pub const HASH_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Extends an FNV-1a state by `bytes`; incremental, so growing a candidate costs O(1) per byte.
pub fn hash_extend(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state ^= u64::from(b);
        state = state.wrapping_mul(0x0000_0100_0000_01b3);
    }
    state
}

/// Spreads an FNV state over all bits (FNV alone clusters in the low bits a table indexes by).
pub fn hash_finish(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The slot to start probing at and the tag stored there, for a finished hash.
pub fn slot_and_tag(hash: u64, slots: usize) -> (usize, u32) {
    ((hash as usize) & (slots - 1), (hash >> 32) as u32)
}

impl Table {
    /// Checks `backing` (header versions, body checksum, section sizes); `None` if unusable.
    pub fn open(backing: Backing) -> Option<Table> {
        format::read_header(&backing)?;
        let layout = format::check_body(&backing)?;
        Some(Table {
            backing,
            layout,
            max_token_len: std::sync::OnceLock::new(),
        })
    }

    /// The whole cache file.
    pub fn bytes(&self) -> &[u8] {
        &self.backing
    }

    /// The skeleton JSON section.
    pub fn skeleton(&self) -> &[u8] {
        self.section(section::SKELETON)
    }

    fn section(&self, i: usize) -> &[u8] {
        self.layout.section(&self.backing, i)
    }

    /// Number of vocabulary ids (added tokens excluded).
    pub fn vocab_size(&self) -> usize {
        self.layout.vocab
    }

    /// Number of merges.
    pub fn merge_count(&self) -> usize {
        self.section(section::MERGES).len() / 12
    }

    /// Byte length of the longest token (computed on first use: only long words need it).
    pub fn max_token_len(&self) -> usize {
        *self.max_token_len.get_or_init(|| {
            let offsets = self.section(section::TOKEN_OFFSETS);
            (0..self.layout.vocab)
                .filter_map(|i| le_u32(offsets, i * 4 + 4)?.checked_sub(le_u32(offsets, i * 4)?))
                .max()
                .unwrap_or(0) as usize
        })
    }

    /// The token string of `id`.
    pub fn token(&self, id: u32) -> Option<&str> {
        let offsets = self.section(section::TOKEN_OFFSETS);
        let at = (id as usize).checked_mul(4)?;
        let start = le_u32(offsets, at)? as usize;
        let end = le_u32(offsets, at + 4)? as usize;
        let bytes = self.section(section::TOKEN_BYTES).get(start..end)?;
        std::str::from_utf8(bytes).ok()
    }

    /// The `(left, right, result)` ids of the merge with rank `rank`.
    pub fn merge(&self, rank: u32) -> Option<[u32; 3]> {
        let merges = self.section(section::MERGES);
        let at = (rank as usize).checked_mul(12)?;
        Some([
            le_u32(merges, at)?,
            le_u32(merges, at + 4)?,
            le_u32(merges, at + 8)?,
        ])
    }

    /// Ranks of the merges whose result is `id`.
    pub fn merges_into(&self, id: u32) -> Option<impl Iterator<Item = u32> + '_> {
        let offsets = self.section(section::MERGE_OFFSETS);
        let at = (id as usize).checked_mul(4)?;
        let start = le_u32(offsets, at)? as usize;
        let end = le_u32(offsets, at + 4)? as usize;
        let ranks = self
            .section(section::MERGE_RANKS)
            .get(start.checked_mul(4)?..end.checked_mul(4)?)?;
        Some(
            ranks
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        )
    }

    /// The id of the token `text`, if it is in the vocabulary.
    pub fn lookup(&self, text: &str) -> Option<u32> {
        let hash = hash_finish(hash_extend(HASH_START, text.as_bytes()));
        self.probe(hash, &[text]).token
    }

    /// Looks up the string made of `parts` (whose finished hash is `hash`).
    pub fn probe(&self, hash: u64, parts: &[&str]) -> Probe {
        let slots = self.section(section::SLOTS);
        let (mut slot, tag) = slot_and_tag(hash, self.layout.slots);
        let mut maybe_prefix = false;
        // The table is never full (load ≤ 0.7), so an empty slot always ends the walk;
        // the bound only guards against a foreign file.
        for _ in 0..self.layout.slots {
            let (Some(stored), Some(value)) =
                (le_u32(slots, slot * 8), le_u32(slots, slot * 8 + 4))
            else {
                break;
            };
            if value == 0 {
                break;
            }
            if stored == tag {
                if value == PREFIX_ONLY {
                    maybe_prefix = true;
                } else if self
                    .token(value - 1)
                    .is_some_and(|t| equals_parts(t, parts))
                {
                    return Probe {
                        token: Some(value - 1),
                        maybe_prefix: true,
                    };
                }
            }
            slot = (slot + 1) & (self.layout.slots - 1);
        }
        Probe {
            token: None,
            maybe_prefix,
        }
    }
}

/// Whether `token` is the concatenation of `parts`, without building it.
fn equals_parts(token: &str, parts: &[&str]) -> bool {
    let mut rest = token;
    for part in parts {
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}
