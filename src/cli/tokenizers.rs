//! `tinkex cache` and `tinkex prefetch`: look at, empty, or fill the tokenizer caches.

use std::time::{Duration, SystemTime};

use super::settings::DEFAULT_TIMEOUT;
use crate::error::{Error, Result};
use crate::tokenizer::prefetch::{self, Place, Prefetched};
use crate::tokenizer::{self, fast, HubRetry, HubSettings, TokenizerOptions, TokenizerSpec};
use crate::Deadline;

/// `tinkex cache` (`clear`: `tinkex cache clear`): the listing (as JSON with `json`), or the
/// entries removed.
pub fn cache(clear: bool, json: bool) -> Result<()> {
    let options = TokenizerOptions::from_env();
    let dir = options.cache_dir.clone().ok_or_else(|| {
        Error::Usage("no tokenizer cache directory: set XDG_CACHE_HOME or HOME".into())
    })?;
    let text = if clear {
        fast::clear(&dir).map(|(files, bytes)| {
            format!(
                "removed {files} files ({}) from {}\n",
                size(bytes),
                dir.display()
            )
        })
    } else if json {
        json_listing(&dir, &options, SystemTime::now())
    } else {
        listing(&dir, &options, SystemTime::now())
    };
    let text = text.map_err(|e| cache_error(&dir, e))?;
    print!("{}", crate::redact::scrub(&text));
    Ok(())
}

/// A cache directory that fails the trust check is the user's to fix (exit 2); other I/O
/// failures are reported as such.
fn cache_error(dir: &std::path::Path, error: std::io::Error) -> Error {
    if error.kind() != std::io::ErrorKind::PermissionDenied {
        return Error::io(format!("cannot read {}", dir.display()), error);
    }
    Error::Input {
        message: format!(
            "refusing to touch the tokenizer cache {}: {error}",
            dir.display()
        ),
        hint: Some(
            "make it a private directory of your own (chmod 700, no symlink), or point XDG_CACHE_HOME elsewhere"
                .into(),
        ),
    }
}

/// The `tinkex cache` listing of `dir`, least recently used last.
fn listing(
    dir: &std::path::Path,
    options: &TokenizerOptions,
    now: SystemTime,
) -> std::io::Result<String> {
    let listing = fast::list(dir)?;
    let cap = options.max_bytes.map_or("unlimited".into(), size);
    let mut out = format!("tokenizer cache: {} (cap {cap})\n", dir.display());
    for entry in listing.entries.iter().rev() {
        let age = now.duration_since(entry.last_use).unwrap_or_default();
        let sources = live_sources(&entry.sources);
        let source = match sources.as_slice() {
            [] => "(its sources no longer exist)".to_string(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
        };
        out += &format!("{:>10}  {:>12}  {source}\n", size(entry.bytes), ago(age));
    }
    let count = listing.entries.len();
    let plural = if count == 1 { "y" } else { "ies" };
    out += &format!("total {} in {count} entr{plural}\n", size(listing.total));
    Ok(out)
}

/// The sources of an entry that still exist: a tokenizer file read once from a temporary
/// folder since removed is no help in a listing.
fn live_sources(sources: &[std::path::PathBuf]) -> Vec<String> {
    sources
        .iter()
        .filter(|s| s.exists())
        .map(|s| source_name(s))
        .collect()
}

/// A hub cache path as its repo id (`…/models--Qwen--Qwen3-8B/snapshots/…` → `Qwen/Qwen3-8B`),
/// any other source as its path.
fn source_name(path: &std::path::Path) -> String {
    path.components()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(|c| c.strip_prefix("models--"))
        .map_or_else(
            || path.display().to_string(),
            |repo| repo.replace("--", "/"),
        )
}

/// `tinkex cache --json`: the listing as one JSON document, least recently used last.
fn json_listing(
    dir: &std::path::Path,
    options: &TokenizerOptions,
    now: SystemTime,
) -> std::io::Result<String> {
    let listing = fast::list(dir)?;
    let entries: Vec<serde_json::Value> = listing
        .entries
        .iter()
        .rev()
        .map(|entry| {
            let unix = entry.last_use.duration_since(SystemTime::UNIX_EPOCH);
            serde_json::json!({
                "sources": live_sources(&entry.sources),
                "bytes": entry.bytes,
                "last_use_unix": unix.map(|d| d.as_secs()).unwrap_or_default(),
                "last_use_secs_ago": now.duration_since(entry.last_use).unwrap_or_default().as_secs(),
            })
        })
        .collect();
    let document = serde_json::json!({
        "dir": dir.display().to_string(),
        "cap_bytes": options.max_bytes,
        "entries": entries,
        "total_bytes": listing.total,
    });
    Ok(format!("{document:#}\n"))
}

/// `tinkex prefetch`: each base model's and each named tokenizer, fetched and cached.
pub fn prefetch_all(base_models: &[String], tokenizers: &[String]) -> Result<()> {
    let mut specs: Vec<TokenizerSpec> = base_models
        .iter()
        .map(|m| TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(m)))
        .collect();
    specs.extend(tokenizers.iter().map(|t| TokenizerSpec::parse(t)));
    specs.dedup();
    if specs.is_empty() {
        return Err(Error::Usage(
            "prefetch needs --base-model or --tokenizer (repeatable)".into(),
        ));
    }
    let scale = crate::client::retry_scale_from_env()?;
    let defaults = HubRetry::default();
    let retry = HubRetry {
        first_backoff: defaults.first_backoff.mul_f64(scale),
        ..defaults
    };
    let hub = HubSettings::from_env();
    let options = TokenizerOptions::from_env();
    let deadline = Deadline::after(DEFAULT_TIMEOUT);
    for spec in &specs {
        let done = prefetch::prefetch(spec, &hub, &deadline, &retry, &options)?;
        print!("{}", crate::redact::scrub(&describe(&done)));
    }
    // A cold build may leave its cache write running; a prefetch exists to finish it.
    tokenizer::finish_cache_writes();
    Ok(())
}

/// What `prefetch` prints for one tokenizer.
fn describe(done: &Prefetched) -> String {
    let mut out = format!("{}\n", done.id);
    for (file, place) in &done.files {
        let place = match place {
            Place::Stored(path) => path.display().to_string(),
            Place::Absent => "not in the repository".into(),
            Place::NotCached => "fetched, but not cached (the hub named no commit)".into(),
        };
        out += &format!("  {file:<22} {place}\n");
    }
    let entry = match (&done.entry, done.fast_path) {
        (Some((path, bytes)), true) => format!("{} ({})", path.display(), size(*bytes)),
        (Some((path, _)), false) => format!("{} (full tokenizer only)", path.display()),
        (None, _) => "none (no cache directory, or it is not writable)".into(),
    };
    out += &format!("  {:<22} {entry}\n", "fast cache");
    out
}

/// `bytes` for people, as every command shows sizes.
fn size(bytes: u64) -> String {
    super::units::bytes(bytes)
}

/// How long ago, coarsely: "just now", "5 min ago", "3 h ago", "12 days ago".
fn ago(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(9_437_184), "9.0 MB");
        assert_eq!(size(1 << 30), "1.0 GB");
        assert_eq!(ago(Duration::from_secs(5)), "just now");
        assert_eq!(ago(Duration::from_secs(300)), "5 min ago");
        assert_eq!(ago(Duration::from_secs(7200)), "2 h ago");
        assert_eq!(ago(Duration::from_secs(864_000)), "10 days ago");
    }

    #[test]
    fn an_empty_cache_lists_as_empty() {
        let tmp = tempfile::tempdir().unwrap();
        // Not created yet: an absent cache is an empty one.
        let dir = tmp.path().join("tokenizers");
        let options = TokenizerOptions::with_cache_dir(&dir);
        let text = listing(&dir, &options, SystemTime::now()).unwrap();
        assert!(text.ends_with("total 0 B in 0 entries\n"), "{text}");
        assert!(text.contains("(cap 1.0 GB)"), "{text}");
        let json = json_listing(&dir, &options, SystemTime::now()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["total_bytes"], 0);
        assert_eq!(value["entries"], serde_json::json!([]));
    }

    #[test]
    fn hub_sources_read_as_their_repo() {
        let path =
            std::path::Path::new("/h/hub/models--Qwen--Qwen3-8B/snapshots/abc/tokenizer.json");
        assert_eq!(source_name(path), "Qwen/Qwen3-8B");
        assert_eq!(
            source_name(std::path::Path::new("/t/tok.json")),
            "/t/tok.json"
        );
    }

    #[test]
    fn gone_sources_are_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        let here = tmp.path().join("tokenizer.json");
        std::fs::write(&here, "{}").unwrap();
        let gone = tmp.path().join("gone/tokenizer.json");
        assert_eq!(
            live_sources(&[gone, here.clone()]),
            [here.display().to_string()]
        );
    }
}
