//! Instant tokenizer start: a binary cache of `tokenizer.json`, mapped read-only, and a
//! per-input subset BPE built from it, with ids identical to the full tokenizer's.
//!
//! Parsing Qwen3's 11 MB `tokenizer.json` takes about half a second and 130 MB. The cache
//! keeps the vocabulary, merges and a lookup table in a form that needs no parsing; each
//! encode builds a BPE holding only the entries its input can use ([`model`]). Anything
//! the fast path does not cover (other models, dropout, a failed self-check) uses the
//! full tokenizer: correctness first.

mod build;
mod cached;
mod format;
mod lru;
mod model;
mod options;
mod probe;
mod record;
mod store;
mod table;
mod typed;
mod writer;

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use tokenizers::models::bpe::BPE;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PaddingParams, PostProcessorWrapper,
    PreTokenizerWrapper, TokenizerBuilder, TokenizerImpl, TruncationParams,
};

pub use format::{FORMAT_VERSION, TOKENIZERS_VERSION};
pub use lru::{clear, list, Entry, Listing};
pub use options::{TokenizerOptions, DEFAULT_MAX_BYTES};

use model::{BpeConfig, SubsetModel};
use table::Table;

/// The tokenizer the fast path runs: the real pipeline around a [`SubsetModel`].
pub(crate) type FastImpl = TokenizerImpl<
    SubsetModel,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// A loaded tokenizer: the fast path when valid, else the full tokenizer.
pub(crate) enum Loaded {
    /// Served from cache tables.
    Fast(Box<FastImpl>),
    /// The whole `tokenizer.json` parsed by the `tokenizers` crate.
    Full(Box<tokenizers::Tokenizer>),
}

/// Why loading failed: the source could not be read, or the crate rejected it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Reading the source file failed.
    Read(std::io::Error),
    /// The `tokenizers` crate could not parse it (its message).
    Parse(String),
}

/// The `tokenizer.json` minus the model's vocab and merges.
#[derive(Deserialize)]
struct Skeleton {
    #[serde(default)]
    truncation: Option<TruncationParams>,
    #[serde(default)]
    padding: Option<PaddingParams>,
    #[serde(default)]
    added_tokens: Vec<AddedTokenWithId>,
    #[serde(default)]
    normalizer: Option<NormalizerWrapper>,
    #[serde(default)]
    pre_tokenizer: Option<PreTokenizerWrapper>,
    #[serde(default)]
    post_processor: Option<PostProcessorWrapper>,
    #[serde(default)]
    decoder: Option<DecoderWrapper>,
    model: BpeConfig,
}

/// An `added_tokens` entry; the crate too ignores the id and re-derives it.
#[derive(Deserialize)]
struct AddedTokenWithId {
    #[serde(flatten)]
    token: AddedToken,
}

/// Builds the fast tokenizer over `table`, as the crate's deserializer would build the full one.
fn fast_impl(table: Table) -> Result<FastImpl, String> {
    let skeleton: Skeleton = serde_json::from_slice(table.skeleton()).map_err(|e| e.to_string())?;
    let config = skeleton.model.clone();
    pipeline(skeleton, SubsetModel::new(Arc::new(table), config))
}

/// The reference the cold path checks a fast tokenizer against: the crate's own BPE over
/// the same tables, in the same pipeline (cheaper than parsing the JSON a second time).
fn reference_impl(
    fast: &FastImpl,
) -> Result<
    TokenizerImpl<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >,
    String,
> {
    let model = fast.get_model();
    let skeleton: Skeleton =
        serde_json::from_slice(model.table().skeleton()).map_err(|e| e.to_string())?;
    pipeline(skeleton, model.whole_bpe().map_err(|e| e.to_string())?)
}

/// `model` inside the skeleton's normalizer, pre-tokenizer, post-processor, decoder and added tokens.
fn pipeline<M: tokenizers::Model>(
    skeleton: Skeleton,
    model: M,
) -> Result<
    TokenizerImpl<M, NormalizerWrapper, PreTokenizerWrapper, PostProcessorWrapper, DecoderWrapper>,
    String,
> {
    let mut tokenizer = TokenizerBuilder::new()
        .with_model(model)
        .with_normalizer(skeleton.normalizer)
        .with_pre_tokenizer(skeleton.pre_tokenizer)
        .with_post_processor(skeleton.post_processor)
        .with_decoder(skeleton.decoder)
        .with_truncation(skeleton.truncation)
        .with_padding(skeleton.padding)
        .build()
        .map_err(|e| e.to_string())?;
    tokenizer
        .add_tokens(skeleton.added_tokens.into_iter().map(|t| t.token))
        .map_err(|e| e.to_string())?;
    Ok(tokenizer)
}

/// Loads the tokenizer at `source`, through the cache that `options` names.
pub(crate) fn load(
    source: &Path,
    dir: &Path,
    options: &TokenizerOptions,
) -> Result<Loaded, Failure> {
    cached::load(source, dir, options)
}

/// Waits for cache writes deferred by [`TokenizerOptions::defer_writes`]; call before exit.
pub fn finish_writes() {
    writer::finish();
}

/// The content entry the path record of `source` points at, and its size, if both exist.
pub fn entry_for(dir: &Path, source: &Path) -> Option<(std::path::PathBuf, u64)> {
    let record = record::read(&store::record_file(dir, source))?;
    let entry = store::entry_file(dir, record.hash);
    let len = std::fs::metadata(&entry).ok()?.len();
    Some((entry, len))
}

fn full(bytes: &[u8]) -> Result<tokenizers::Tokenizer, Failure> {
    tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| Failure::Parse(e.to_string()))
}
