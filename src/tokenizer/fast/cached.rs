//! Loading through the cache: path record → content entry → tables, or a build that stores
//! a new entry, records the path, and keeps the directory under its size cap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::format::{self, Header, SourceStat, FLAG_FULL_ONLY};
use super::record::{self, Record, STAT_TRUSTED};
use super::table::{Backing, Table};
use super::{
    build, fast_impl, full, lru, probe, reference_impl, store, typed, Failure, FastImpl, Loaded,
    TokenizerOptions,
};

/// Where one source's cache lives, and what is known about it so far (owned, so a
/// deferred write can take it to its thread).
struct Slot {
    dir: PathBuf,
    source: PathBuf,
    stat: SourceStat,
    record: PathBuf,
    max_bytes: Option<u64>,
}

/// Loads the tokenizer at `source` through the cache directory `dir`.
pub(crate) fn load(
    source: &Path,
    dir: &Path,
    options: &TokenizerOptions,
) -> Result<Loaded, Failure> {
    let stat = store::source_stat(source).map_err(Failure::Read)?;
    let slot = Slot {
        dir: dir.to_path_buf(),
        source: source.to_path_buf(),
        stat,
        record: store::record_file(dir, source),
        max_bytes: options.max_bytes,
    };
    if !store::dir_is_trusted(dir) {
        let bytes = std::fs::read(source).map_err(Failure::Read)?;
        return build_only(source, &bytes).map(|(loaded, _)| loaded);
    }
    let known = record::read(&slot.record);
    let mut bytes = None;
    let hash = match &known {
        Some(r) if r.vouches_for(&stat) => r.hash,
        _ => {
            let read = std::fs::read(source).map_err(Failure::Read)?;
            let hash = format::content_hash(&read);
            bytes = Some(read);
            hash
        }
    };
    let entry = store::entry_file(dir, hash);
    if let Some(loaded) = open_entry(&slot, &entry, hash, &mut bytes)? {
        note_use(&slot, known.as_ref(), hash);
        return Ok(loaded);
    }
    // The entry is missing or unusable: build it from the bytes (read now if the record
    // vouched for them, and then hashed again, since the build is named by what it read).
    let (bytes, hash) = match bytes {
        Some(b) => (b, hash),
        None => {
            let b = std::fs::read(source).map_err(Failure::Read)?;
            let hash = format::content_hash(&b);
            (b, hash)
        }
    };
    let (loaded, stored) = build_only(source, &bytes)?;
    drop(bytes);
    if options.defer_writes {
        super::writer::spawn(move || save(&slot, hash, stored));
    } else {
        save(&slot, hash, stored);
    }
    Ok(loaded)
}

/// The entry for `hash`, if present, ours, intact and of this content.
fn open_entry(
    slot: &Slot,
    entry: &Path,
    hash: u128,
    bytes: &mut Option<Vec<u8>>,
) -> Result<Option<Loaded>, Failure> {
    let Some(backing) = store::map(entry) else {
        return Ok(None);
    };
    match format::read_header(&backing) {
        Some(header) if header.content_hash == hash => {
            if header.flags & FLAG_FULL_ONLY != 0 {
                log::debug!(
                    "tokenizer {}: full path only (cached verdict)",
                    slot.source.display()
                );
                let bytes = match bytes.take() {
                    Some(b) => b,
                    None => std::fs::read(&slot.source).map_err(Failure::Read)?,
                };
                return full(&bytes).map(|f| Some(Loaded::Full(Box::new(f))));
            }
            if let Some(fast) = Table::open(backing).and_then(|t| fast_impl(t).ok()) {
                return Ok(Some(Loaded::Fast(Box::new(fast))));
            }
        }
        _ => {}
    }
    log::debug!(
        "tokenizer cache {} is stale or damaged; rebuilding it",
        entry.display()
    );
    Ok(None)
}

/// Records this use: a touch when the record already vouches, else a fresh record.
fn note_use(slot: &Slot, known: Option<&Record>, hash: u128) {
    match known {
        Some(r) if r.hash == hash && r.vouches_for(&slot.stat) => store::touch(&slot.record),
        _ => write_record(slot, hash),
    }
}

fn write_record(slot: &Slot, hash: u128) {
    let trusted = store::stat_is_trustworthy(&slot.stat, SystemTime::now());
    let record = Record {
        flags: if trusted { STAT_TRUSTED } else { 0 },
        hash,
        stat: slot.stat,
        source: store::canonical(&slot.source),
    };
    if let Err(e) = store::write(&slot.record, &record::encode(&record)) {
        log::debug!("tokenizer cache record not written: {e}");
    }
}

/// What a build leaves to store: the checked tables, or the "full path only" verdict.
pub(crate) enum Stored {
    /// The fast tables (shared with the tokenizer that uses them).
    Tables(Arc<Table>),
    /// Only a header saying the fast path does not apply.
    FullOnly(Vec<u8>),
}

/// Builds and self-checks the tables for `bytes`: typed parse first, the full one as fallback.
pub(crate) fn build_only(source: &Path, bytes: &[u8]) -> Result<(Loaded, Stored), Failure> {
    let started = Instant::now();
    match typed_build(bytes) {
        Ok(fast) => {
            log::debug!(
                "tokenizer {}: cache built from the typed parse in {:.1} ms",
                source.display(),
                started.elapsed().as_secs_f64() * 1e3
            );
            let table = fast.get_model().table();
            return Ok((Loaded::Fast(Box::new(fast)), Stored::Tables(table)));
        }
        Err(why) => log::debug!(
            "tokenizer {}: typed parse declined ({why}); parsing it fully",
            source.display()
        ),
    }
    full_build(source, bytes)
}

/// Tables from the typed parse, checked against the crate's BPE over the same tables.
fn typed_build(bytes: &[u8]) -> Result<FastImpl, String> {
    let header = Header {
        flags: 0,
        content_hash: format::content_hash(bytes),
        stat: SourceStat::default(),
    };
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let tables = typed::tables(bytes)?;
    let parsed = ms(started);
    let encoded = format::encode_file(&header, Some(&tables));
    drop(tables);
    let table = Table::open(Backing::Owned(encoded)).ok_or("the built cache does not read back")?;
    let fast = fast_impl(table)?;
    let built = ms(started);
    let reference = reference_impl(&fast)?;
    let referenced = ms(started);
    probe::check(&reference, &fast)?;
    log::debug!(
        "typed build (ms since start): tables {parsed:.1}, tokenizer {built:.1}, reference {referenced:.1}, checked {:.1}",
        ms(started)
    );
    Ok(fast)
}

/// Parses the source fully, builds and self-checks the tables; returns the best path.
fn full_build(source: &Path, bytes: &[u8]) -> Result<(Loaded, Stored), Failure> {
    let full = full(bytes)?;
    let mut header = Header {
        flags: 0,
        content_hash: format::content_hash(bytes),
        stat: SourceStat::default(),
    };
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
            let table = fast.get_model().table();
            Ok((Loaded::Fast(Box::new(fast)), Stored::Tables(table)))
        }
        Err(why) => {
            log::debug!("tokenizer {}: full path only ({why})", source.display());
            header.flags |= FLAG_FULL_ONLY;
            let verdict = format::encode_file(&header, None);
            Ok((Loaded::Full(Box::new(full)), Stored::FullOnly(verdict)))
        }
    }
}

/// Stores a built entry, then the path record, then evicts down to the cap.
fn save(slot: &Slot, hash: u128, stored: Stored) {
    let entry = store::entry_file(&slot.dir, hash);
    let bytes: &[u8] = match &stored {
        Stored::Tables(table) => table.bytes(),
        Stored::FullOnly(verdict) => verdict,
    };
    if let Err(e) = store::write(&entry, bytes) {
        log::debug!("tokenizer cache off: cannot write {}: {e}", entry.display());
        return;
    }
    log::debug!("tokenizer cache written: {}", entry.display());
    write_record(slot, hash);
    if let Some(cap) = slot.max_bytes {
        if let Err(e) = lru::enforce(&slot.dir, cap, &entry) {
            log::debug!("tokenizer cache not trimmed: {e}");
        }
    }
}
