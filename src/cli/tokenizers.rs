//! `tinkex cache` and `tinkex prefetch`: look at, empty, or fill the tokenizer caches.

use std::time::{Duration, SystemTime};

use super::settings::DEFAULT_TIMEOUT;
use crate::error::{Error, Result};
use crate::tokenizer::prefetch::{self, Place, Prefetched};
use crate::tokenizer::{self, fast, HubRetry, HubSettings, TokenizerOptions, TokenizerSpec};
use crate::Deadline;

/// `tinkex cache` (`clear`: `tinkex cache clear`): the listing, or the entries removed.
pub fn cache(clear: bool) -> Result<()> {
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
        let sources: Vec<String> = entry
            .sources
            .iter()
            .map(|s| s.display().to_string())
            .collect();
        let sources = match sources.is_empty() {
            true => "(no source recorded)".to_string(),
            false => sources.join(", "),
        };
        out += &format!("{:>10}  {:>12}  {sources}\n", size(entry.bytes), ago(age));
    }
    let count = listing.entries.len();
    let plural = if count == 1 { "y" } else { "ies" };
    out += &format!("total {} in {count} entr{plural}\n", size(listing.total));
    Ok(out)
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
    }
}
