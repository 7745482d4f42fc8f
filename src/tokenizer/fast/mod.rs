//! Instant tokenizer start: a binary cache of `tokenizer.json`, mapped read-only, and a
//! per-input subset BPE built from it, with ids identical to the full tokenizer's.
//!
//! Parsing Qwen3's 11 MB `tokenizer.json` takes about half a second and 130 MB. The cache
//! keeps the vocabulary, merges and a lookup table in a form that needs no parsing; each
//! encode builds a BPE holding only the entries its input can use ([`model`]). Anything
//! the fast path does not cover (other models, dropout, a failed self-check) uses the
//! full tokenizer: correctness first.

mod build;
mod format;
mod model;
mod options;
mod probe;
mod store;
mod table;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Deserialize;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PaddingParams, PostProcessorWrapper,
    PreTokenizerWrapper, TokenizerBuilder, TokenizerImpl, TruncationParams,
};

pub use format::{FORMAT_VERSION, TOKENIZERS_VERSION};
pub use options::TokenizerOptions;

use format::{Header, FLAG_FULL_ONLY, FLAG_STAT_TRUSTED};
use model::{BpeConfig, SubsetModel};
use table::{Backing, Table};

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
    let model = SubsetModel::new(Arc::new(table), skeleton.model);
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

/// Loads the tokenizer at `source`, through the cache directory `dir`.
pub(crate) fn load(source: &Path, dir: &Path) -> Result<Loaded, Failure> {
    let stat = store::source_stat(source).map_err(Failure::Read)?;
    let file = store::cache_file(dir, source);
    let mut bytes = None;
    if let Some(backing) = store::map(&file) {
        if let Some(header) = format::read_header(&backing) {
            let trusted = header.flags & FLAG_STAT_TRUSTED != 0 && header.stat == stat;
            if !trusted {
                bytes = Some(std::fs::read(source).map_err(Failure::Read)?);
            }
            let same =
                trusted || bytes.as_deref().map(format::content_hash) == Some(header.content_hash);
            if same && header.flags & FLAG_FULL_ONLY != 0 {
                log::debug!(
                    "tokenizer {}: full path only (cached verdict)",
                    source.display()
                );
                let bytes = match bytes {
                    Some(b) => b,
                    None => std::fs::read(source).map_err(Failure::Read)?,
                };
                return full(&bytes).map(|f| Loaded::Full(Box::new(f)));
            }
            if same {
                if !trusted {
                    refresh_header(&file, &backing, header, stat);
                }
                if let Some(fast) = Table::open(backing).and_then(|t| fast_impl(t).ok()) {
                    return Ok(Loaded::Fast(Box::new(fast)));
                }
            }
        }
        log::debug!(
            "tokenizer cache {} is stale or damaged; rebuilding it",
            file.display()
        );
    }
    let bytes = match bytes {
        Some(b) => b,
        None => std::fs::read(source).map_err(Failure::Read)?,
    };
    build_and_store(source, &bytes, stat, &file)
}

fn full(bytes: &[u8]) -> Result<tokenizers::Tokenizer, Failure> {
    tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| Failure::Parse(e.to_string()))
}

/// Once a source has sat unchanged long enough, records its stat so warm runs skip hashing.
fn refresh_header(file: &Path, backing: &[u8], header: Header, stat: format::SourceStat) {
    if !store::stat_is_trustworthy(&stat, SystemTime::now()) {
        return;
    }
    let header = Header {
        flags: header.flags | FLAG_STAT_TRUSTED,
        stat,
        ..header
    };
    let mut updated = backing.to_vec();
    if format::rewrite_header(&mut updated, &header).is_some() {
        if let Err(e) = store::write(file, &updated) {
            log::debug!("tokenizer cache not updated ({}): {e}", file.display());
        }
    }
}

/// Parses the source fully, builds and self-checks the cache, stores it, and returns the best path.
fn build_and_store(
    source: &Path,
    bytes: &[u8],
    stat: format::SourceStat,
    file: &Path,
) -> Result<Loaded, Failure> {
    let full = full(bytes)?;
    let mut header = Header {
        flags: 0,
        content_hash: format::content_hash(bytes),
        stat,
    };
    if store::stat_is_trustworthy(&stat, SystemTime::now()) {
        header.flags |= FLAG_STAT_TRUSTED;
    }
    let checked = build::tables(bytes).and_then(|tables| {
        let encoded = format::encode_file(&header, Some(&tables));
        drop(tables);
        let table =
            Table::open(Backing::Owned(encoded)).ok_or("the built cache does not read back")?;
        let fast = fast_impl(table)?;
        probe::check(&full, &fast)?;
        Ok(fast)
    });
    match checked {
        Ok(fast) => {
            save(file, fast.get_model().table_bytes());
            Ok(Loaded::Fast(Box::new(fast)))
        }
        Err(why) => {
            log::debug!("tokenizer {}: full path only ({why})", source.display());
            header.flags |= FLAG_FULL_ONLY;
            save(file, &format::encode_file(&header, None));
            Ok(Loaded::Full(Box::new(full)))
        }
    }
}

fn save(file: &Path, bytes: &[u8]) {
    match store::write(file, bytes) {
        Ok(()) => log::debug!("tokenizer cache written: {}", file.display()),
        Err(e) => log::debug!("tokenizer cache off: cannot write {}: {e}", file.display()),
    }
}
