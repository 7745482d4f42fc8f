//! Ids a batch has seen, kept as 64-bit hashes so memory stays a few bytes per prompt however
//! long the ids are. A hash match is only a candidate: the caller reads the earlier line back
//! from its file to confirm it, so a collision between two distinct ids is never misreported.

use std::collections::hash_map::{Entry, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, BufRead, Seek, SeekFrom};

/// The hash of an id's canonical text; the same in every run and on every machine.
pub fn hash_id(key: &str) -> u64 {
    // `DefaultHasher::new()` is SipHash with fixed keys: deterministic, unlike `RandomState`.
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// Where each distinct id was seen (`V`: a line number, a byte offset…), found by hash.
#[derive(Debug)]
pub struct IdIndex<V> {
    first: HashMap<u64, V>,
    /// Further distinct ids whose hash equals an earlier one's (almost always empty).
    collided: HashMap<u64, Vec<V>>,
    len: usize,
}

impl<V> Default for IdIndex<V> {
    fn default() -> Self {
        IdIndex {
            first: HashMap::new(),
            collided: HashMap::new(),
            len: 0,
        }
    }
}

impl<V: Copy> IdIndex<V> {
    /// The entry whose id is `key`; `same(entry)` reads the entry's id back and compares it.
    pub fn find<E>(
        &self,
        key: &str,
        mut same: impl FnMut(V) -> Result<bool, E>,
    ) -> Result<Option<V>, E> {
        let hash = hash_id(key);
        let Some(&first) = self.first.get(&hash) else {
            return Ok(None);
        };
        let others = self.collided.get(&hash).into_iter().flatten().copied();
        for candidate in std::iter::once(first).chain(others) {
            if same(candidate)? {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Records `key` at `value`; the caller has checked with [`IdIndex::find`] that it is new.
    pub fn insert_new(&mut self, key: &str, value: V) {
        let hash = hash_id(key);
        match self.first.entry(hash) {
            Entry::Occupied(_) => self.collided.entry(hash).or_default().push(value),
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
        self.len += 1;
    }

    /// How many distinct ids were recorded.
    pub fn len(&self) -> usize {
        self.len
    }
}

/// The line starting at byte `offset` of `reader`'s file, without its newline.
pub fn line_at(reader: &mut (impl BufRead + Seek), offset: u64) -> io::Result<String> {
    reader.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    crate::bounded::read_line(reader, &mut bytes, crate::bounded::LINE_LIMIT)?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A set of line numbers, one bit each.
#[derive(Debug, Default)]
pub struct LineSet {
    bits: Vec<u64>,
    len: usize,
}

impl LineSet {
    /// Adds line `n`.
    pub fn insert(&mut self, n: usize) {
        let (word, bit) = (n / 64, n % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.bits[word] |= 1 << bit;
            self.len += 1;
        }
    }

    /// Whether line `n` is in the set.
    pub fn contains(&self, n: usize) -> bool {
        self.bits
            .get(n / 64)
            .is_some_and(|word| word & (1 << (n % 64)) != 0)
    }

    /// How many lines are in the set.
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_deterministic_and_differ_for_different_ids() {
        assert_eq!(hash_id("abc"), hash_id("abc"));
        assert_ne!(hash_id("abc"), hash_id("abd"));
    }

    /// Two distinct ids forced into one hash bucket: only a confirmed match counts.
    #[test]
    fn a_collision_is_confirmed_by_reading_the_ids_back() {
        let mut index: IdIndex<usize> = IdIndex::default();
        let stored = ["a", "b"];
        // Simulate "b" colliding with "a": both recorded under a's hash.
        index.insert_new("a", 0);
        let hash = hash_id("a");
        index.collided.entry(hash).or_default().push(1);
        index.len += 1;
        let lookup = |key: &str| index.find::<()>(key, |at| Ok(stored[at] == key)).unwrap();
        assert_eq!(lookup("a"), Some(0));
        // "b" hashes elsewhere, so it is not found through a's bucket by accident…
        assert_eq!(lookup("b"), None);
        // …and a key hashing to a's bucket but matching neither id is not reported.
        let found = index.find::<()>("a", |at| Ok(at == 1)).unwrap();
        assert_eq!(found, Some(1), "the second candidate is checked too");
        let none = index.find::<()>("a", |_| Ok(false)).unwrap();
        assert_eq!(none, None, "a bare hash match is never a match");
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn insert_new_keeps_both_ids_of_a_colliding_hash() {
        let mut index: IdIndex<u32> = IdIndex::default();
        index.insert_new("x", 1);
        index.insert_new("x", 2); // the caller found "x" distinct (a collision): both stay
        let mut seen = Vec::new();
        index
            .find::<()>("x", |at| {
                seen.push(at);
                Ok(false)
            })
            .unwrap();
        assert_eq!(seen, vec![1, 2]);
    }

    #[test]
    fn line_sets_count_each_line_once() {
        let mut set = LineSet::default();
        for n in [3, 64, 3, 1000] {
            set.insert(n);
        }
        assert_eq!(set.len(), 3);
        assert!(set.contains(64) && set.contains(1000) && !set.contains(4));
        assert!(!set.contains(100_000));
    }
}
