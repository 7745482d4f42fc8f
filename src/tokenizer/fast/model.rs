//! The per-prompt subset BPE: a `tokenizers` model that answers vocabulary questions from
//! the cache tables and encodes each input with a tiny BPE built for it.
//!
//! Why the subset gives the same ids: a BPE merge joins two adjacent symbols of a word,
//! so its result is (with the subword prefix/suffix decoration) a substring of the word.
//! The subset keeps every vocabulary entry that is such a substring and every merge among
//! them, in the original rank order, so every merge the full model could apply to this
//! input is present with the same relative priority.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokenizers::models::bpe::{BpeTrainer, Vocab, BPE};
use tokenizers::{
    Model, OffsetReferential, OffsetType, PreTokenizedString, Token, TruncationDirection,
};

use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use super::table::{hash_extend, hash_finish, Table, HASH_START};

/// The BPE settings kept in the skeleton's model section (dropout is never set here).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BpeConfig {
    #[serde(default)]
    unk_token: Option<String>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    fuse_unk: Option<bool>,
    #[serde(default)]
    byte_fallback: Option<bool>,
    #[serde(default)]
    ignore_merges: Option<bool>,
}

/// A model over the whole vocabulary that tokenizes through per-input subset BPEs.
pub struct SubsetModel {
    table: Arc<Table>,
    config: BpeConfig,
}

type Result<T> = tokenizers::Result<T>;

/// Words longer than this (bytes) skip start positions whose window was already scanned.
const MEMO_ABOVE: usize = 256;
/// Windows remembered at most, so a huge word of varied text cannot grow memory unbounded.
const MEMO_LIMIT: usize = 1 << 16;

fn corrupt() -> tokenizers::Error {
    "the tokenizer cache is inconsistent".into()
}

/// Ids already collected, as a bitset over the vocabulary plus a list.
struct IdSet {
    bits: Vec<u64>,
    ids: Vec<u32>,
}

impl IdSet {
    fn new(vocab: usize) -> IdSet {
        IdSet {
            bits: vec![0; vocab.div_ceil(64)],
            ids: Vec::new(),
        }
    }

    fn contains(&self, id: u32) -> bool {
        self.bits
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn insert(&mut self, id: u32) {
        if let Some(w) = self.bits.get_mut(id as usize / 64) {
            if *w & (1 << (id % 64)) == 0 {
                *w |= 1 << (id % 64);
                self.ids.push(id);
            }
        }
    }
}

impl SubsetModel {
    /// A model over `table` with the BPE settings `config`.
    pub fn new(table: Arc<Table>, config: BpeConfig) -> SubsetModel {
        SubsetModel { table, config }
    }

    /// The cache tables behind this model (shared, so a writer thread can store them).
    pub fn table(&self) -> Arc<Table> {
        Arc::clone(&self.table)
    }

    /// The crate's BPE over the whole vocabulary: the reference a cold build checks against.
    pub fn whole_bpe(&self) -> Result<BPE> {
        let size = self.table.vocab_size() as u32;
        let token = |id: u32| self.table.token(id).map(str::to_owned).ok_or_else(corrupt);
        let mut vocab = Vocab::with_capacity(size as usize);
        for id in 0..size {
            vocab.insert(token(id)?, id);
        }
        let mut merges = Vec::with_capacity(self.table.merge_count());
        for rank in 0..self.table.merge_count() as u32 {
            let [a, b, _] = self.table.merge(rank).ok_or_else(corrupt)?;
            merges.push((token(a)?, token(b)?));
        }
        self.builder().vocab_and_merges(vocab, merges).build()
    }

    /// The tiny BPE that encodes `words` exactly as the full model would.
    pub fn subset_for<'a>(&self, words: impl Iterator<Item = &'a str>) -> Result<BPE> {
        let mut set = IdSet::new(self.table.vocab_size());
        let mut seen = HashSet::new();
        for word in words.filter(|w| seen.insert(*w)) {
            self.collect_word(word, &mut set);
        }
        self.collect_specials(&mut set);
        let mut ranks = Vec::new();
        for &id in &set.ids {
            for rank in self.table.merges_into(id).ok_or_else(corrupt)? {
                let [a, b, _] = self.table.merge(rank).ok_or_else(corrupt)?;
                if set.contains(a) && set.contains(b) {
                    ranks.push(rank);
                }
            }
        }
        ranks.sort_unstable();
        let token = |id: u32| self.table.token(id).map(str::to_owned).ok_or_else(corrupt);
        let mut vocab = Vocab::default();
        for &id in &set.ids {
            vocab.insert(token(id)?, id);
        }
        let mut merges = Vec::with_capacity(ranks.len());
        for rank in ranks {
            let [a, b, _] = self.table.merge(rank).ok_or_else(corrupt)?;
            merges.push((token(a)?, token(b)?));
        }
        self.builder().vocab_and_merges(vocab, merges).build()
    }

    /// The builder with this model's settings, as the crate's own deserializer sets them.
    fn builder(&self) -> tokenizers::models::bpe::BpeBuilder {
        let c = &self.config;
        let mut builder = BPE::builder();
        if let Some(unk) = &c.unk_token {
            builder = builder.unk_token(unk.clone());
        }
        if let Some(prefix) = &c.continuing_subword_prefix {
            builder = builder.continuing_subword_prefix(prefix.clone());
        }
        if let Some(suffix) = &c.end_of_word_suffix {
            builder = builder.end_of_word_suffix(suffix.clone());
        }
        if let Some(fuse) = c.fuse_unk {
            builder = builder.fuse_unk(fuse);
        }
        if let Some(fallback) = c.byte_fallback {
            builder = builder.byte_fallback(fallback);
        }
        if let Some(ignore) = c.ignore_merges {
            builder = builder.ignore_merges(ignore);
        }
        builder
    }

    /// Tokens the model may emit whatever the word: the unknown token and `<0xXX>` bytes.
    fn collect_specials(&self, set: &mut IdSet) {
        if let Some(id) = self
            .config
            .unk_token
            .as_deref()
            .and_then(|u| self.table.lookup(u))
        {
            set.insert(id);
        }
        if self.config.byte_fallback == Some(true) {
            for byte in 0..=255u8 {
                if let Some(id) = self.table.lookup(&format!("<{byte:#04X}>")) {
                    set.insert(id);
                }
            }
        }
    }

    /// Every vocabulary entry that is a decorated substring of `word`.
    ///
    /// From each start the candidate grows one char at a time and stops as soon as no
    /// token begins with it, so the work is bounded by the longest token, not the word.
    /// In long words a start whose window (the next longest-token bytes) was already
    /// scanned is skipped: a megabyte of spaces is then as cheap as a short run.
    fn collect_word(&self, word: &str, set: &mut IdSet) {
        if self.config.ignore_merges == Some(true) {
            if let Some(id) = self.table.lookup(word) {
                set.insert(id);
            }
        }
        let window = (word.len() > MEMO_ABOVE).then(|| self.table.max_token_len());
        let mut scanned: HashSet<(&str, bool, bool), Xxh3DefaultBuilder> = HashSet::default();
        for (start, _) in word.char_indices() {
            if let Some(len) = window {
                let mut end = (start + len).min(word.len());
                while !word.is_char_boundary(end) {
                    end -= 1;
                }
                if scanned.len() > MEMO_LIMIT {
                    scanned.clear(); // forgetting only costs time, never ids
                }
                if !scanned.insert((&word[start..end], start > 0, end == word.len())) {
                    continue;
                }
            }
            self.collect_from(word, start, set);
        }
    }

    /// The candidates of `word` that start at byte `start`.
    fn collect_from(&self, word: &str, start: usize, set: &mut IdSet) {
        let prefix = self.config.continuing_subword_prefix.as_deref();
        let suffix = self.config.end_of_word_suffix.as_deref().unwrap_or("");
        let lead = if start > 0 { prefix.unwrap_or("") } else { "" };
        let mut state = hash_extend(HASH_START, lead.as_bytes());
        for (offset, c) in word[start..].char_indices() {
            let end = start + offset + c.len_utf8();
            let piece = &word[start..end];
            state = hash_extend(state, &word.as_bytes()[start + offset..end]);
            let probe = self.table.probe(hash_finish(state), &[lead, piece]);
            if let Some(id) = probe.token {
                set.insert(id);
            }
            if end == word.len() && !suffix.is_empty() {
                let with_suffix = hash_finish(hash_extend(state, suffix.as_bytes()));
                if let Some(id) = self.table.probe(with_suffix, &[lead, piece, suffix]).token {
                    set.insert(id);
                }
            }
            if !probe.maybe_prefix {
                break;
            }
        }
    }
}

impl Model for SubsetModel {
    type Trainer = BpeTrainer;

    fn tokenize(&self, sequence: &str) -> Result<Vec<Token>> {
        self.subset_for(std::iter::once(sequence))?
            .tokenize(sequence)
    }

    fn tokenize_in_pretokenized(
        &self,
        pretokenized: &mut PreTokenizedString,
        truncation: Option<(usize, TruncationDirection)>,
    ) -> Result<()> {
        let bpe = {
            let splits = pretokenized.get_splits(OffsetReferential::Normalized, OffsetType::None);
            self.subset_for(
                splits
                    .into_iter()
                    .filter(|(_, _, tokens)| tokens.is_none())
                    .map(|(text, _, _)| text),
            )?
        };
        match truncation {
            Some((max, direction)) => {
                pretokenized.tokenize_with_limit(|n| bpe.tokenize(n.get()), max, direction)
            }
            None => pretokenized.tokenize(|n| bpe.tokenize(n.get())),
        }
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.table.lookup(token)
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        self.table.token(id).map(str::to_owned)
    }

    fn get_vocab(&self) -> std::collections::HashMap<String, u32> {
        (0..self.table.vocab_size() as u32)
            .filter_map(|id| Some((self.table.token(id)?.to_owned(), id)))
            .collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.table.vocab_size()
    }

    fn save(&self, _folder: &Path, _prefix: Option<&str>) -> Result<Vec<PathBuf>> {
        Err("the cached tokenizer model cannot be saved".into())
    }

    fn get_trainer(&self) -> BpeTrainer {
        BpeTrainer::default()
    }
}
