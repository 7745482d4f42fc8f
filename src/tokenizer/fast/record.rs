//! Path records: the small file per source path that says which content entry it held.
//!
//! A warm run reads only this (a few hundred bytes) and the source's stat to find its
//! entry without hashing 11 MB; a new path whose bytes are already known costs one hash
//! and one record, never a rebuild. The record's mtime is the use time eviction orders
//! by, so recording a use is a touch, not a rewrite.
//!
//! Layout (little-endian): magic, format, flags, crate version (16), content hash (16),
//! source stat (48), path length and bytes, xxh3-64 of everything before it.

use std::io::Read;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_64;

use super::format::{le_u32, le_u64, SourceStat, FORMAT_VERSION, TOKENIZERS_VERSION};
use super::store;

pub(super) const MAGIC: &[u8; 8] = b"TINKEXPR";
/// Fixed part before the path bytes.
const FIXED: usize = 8 + 4 + 4 + 16 + 16 + 48 + 4;
/// Records longer than this are not read (a path is at most a few KiB).
const MAX_RECORD: usize = 64 * 1024;

/// Record flag: the stat is old enough to stand in for hashing the source.
pub const STAT_TRUSTED: u32 = 1;

/// What a path record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `STAT_TRUSTED` or 0.
    pub flags: u32,
    /// xxh3-128 of the source bytes: names the content entry.
    pub hash: u128,
    /// The source's stat when it was hashed.
    pub stat: SourceStat,
    /// The source path, for `tinkex cache`.
    pub source: PathBuf,
}

impl Record {
    /// Whether the record vouches for the source's content without hashing it.
    pub fn vouches_for(&self, stat: &SourceStat) -> bool {
        self.flags & STAT_TRUSTED != 0 && self.stat == *stat
    }
}

fn version_bytes() -> [u8; 16] {
    let mut version = [0u8; 16];
    version[..TOKENIZERS_VERSION.len()].copy_from_slice(TOKENIZERS_VERSION.as_bytes());
    version
}

/// The bytes of `record`.
pub fn encode(record: &Record) -> Vec<u8> {
    let path = record.source.to_string_lossy();
    let mut out = Vec::with_capacity(FIXED + path.len() + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&record.flags.to_le_bytes());
    out.extend_from_slice(&version_bytes());
    out.extend_from_slice(&record.hash.to_le_bytes());
    let s = &record.stat;
    for v in [s.len, s.mtime.0 as u64, s.ctime.0 as u64, s.ino, s.dev] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&s.mtime.1.to_le_bytes());
    out.extend_from_slice(&s.ctime.1.to_le_bytes());
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    let sum = xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Decodes a record; `None` for a foreign, damaged or other-version file.
pub fn decode(bytes: &[u8]) -> Option<Record> {
    let body_len = bytes.len().checked_sub(8)?;
    if bytes.len() < FIXED + 8 || le_u64(bytes, body_len)? != xxh3_64(&bytes[..body_len]) {
        return None;
    }
    if &bytes[..8] != MAGIC
        || le_u32(bytes, 8)? != FORMAT_VERSION
        || bytes[16..32] != version_bytes()
    {
        return None;
    }
    let path_len = le_u32(bytes, FIXED - 4)? as usize;
    let path = bytes.get(FIXED..FIXED.checked_add(path_len)?)?;
    if FIXED + path_len != body_len {
        return None;
    }
    let at = |i: usize| le_u64(bytes, 48 + 8 * i);
    Some(Record {
        flags: le_u32(bytes, 12)?,
        hash: u128::from_le_bytes(bytes[32..48].try_into().ok()?),
        stat: SourceStat {
            len: at(0)?,
            mtime: (at(1)? as i64, le_u32(bytes, 88)?),
            ctime: (at(2)? as i64, le_u32(bytes, 92)?),
            ino: at(3)?,
            dev: at(4)?,
        },
        source: PathBuf::from(String::from_utf8_lossy(path).into_owned()),
    })
}

/// Reads the record at `path` (owned by us, bounded in size); `None` when absent or unusable.
pub fn read(path: &Path) -> Option<Record> {
    let (file, len) = store::open_owned(path)?;
    if len > MAX_RECORD as u64 {
        return None;
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_RECORD as u64).read_to_end(&mut bytes).ok()?;
    decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            flags: STAT_TRUSTED,
            hash: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            stat: SourceStat {
                len: 11_422_654,
                mtime: (1_700_000_000, 5),
                ctime: (1_700_000_001, 7),
                ino: 42,
                dev: 9,
            },
            source: PathBuf::from("/hf/models--Qwen--Qwen3-8B/snapshots/abc/tokenizer.json"),
        }
    }

    #[test]
    fn a_record_round_trips_and_any_damage_is_refused() {
        let bytes = encode(&sample());
        assert_eq!(decode(&bytes), Some(sample()));
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert_eq!(decode(&bad), None, "byte {at}");
        }
        for len in 0..bytes.len() {
            assert_eq!(decode(&bytes[..len]), None, "cut at {len}");
        }
    }

    #[test]
    fn only_a_trusted_record_with_the_same_stat_vouches() {
        let record = sample();
        assert!(record.vouches_for(&record.stat));
        let moved = SourceStat {
            ino: 43,
            ..record.stat
        };
        assert!(!record.vouches_for(&moved));
        let untrusted = Record { flags: 0, ..record };
        assert!(!untrusted.vouches_for(&untrusted.stat));
    }
}
