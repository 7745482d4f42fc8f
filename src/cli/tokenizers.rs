//! `tinkex cache` and `tinkex prefetch`: look at, empty, or fill the tokenizer caches.

use std::time::{Duration, SystemTime};

use argh::FromArgs;

use super::settings::{Verbosity, DEFAULT_TIMEOUT};
use crate::error::{Error, Result};
use crate::tokenizer::prefetch::{self, Place, Prefetched};
use crate::tokenizer::{self, fast, HubRetry, HubSettings, TokenizerOptions, TokenizerSpec};
use crate::Deadline;

#[derive(FromArgs, Debug, PartialEq, Eq)]
/// Show the tokenizer cache: its directory, entries (source, size, last use) and total.
#[argh(
    subcommand,
    name = "cache",
    example = "tinkex cache",
    example = "tinkex cache clear",
    note = "The cache lives in $XDG_CACHE_HOME/tinkex/tokenizers (else ~/.cache/tinkex/tokenizers). TINKEX_CACHE_MAX_BYTES caps its size (default 1G; 0 = unlimited): least recently used entries are evicted after each write."
)]
pub struct CacheArgs {
    #[argh(subcommand)]
    /// what to do (default: list)
    pub action: Option<CacheAction>,
}

#[derive(FromArgs, Debug, PartialEq, Eq)]
#[argh(subcommand)]
/// `tinkex cache` actions.
pub enum CacheAction {
    /// `tinkex cache clear`
    Clear(ClearArgs),
}

#[derive(FromArgs, Debug, PartialEq, Eq)]
/// Remove every entry of the tokenizer cache (the Hugging Face cache is left alone).
#[argh(subcommand, name = "clear")]
pub struct ClearArgs {}

#[derive(FromArgs, Debug, PartialEq, Eq)]
/// Download models' tokenizer files into the Hugging Face cache and build their fast
/// cache entries, so that later runs (also `tinkex run --offline`) start warm.
#[argh(
    subcommand,
    name = "prefetch",
    example = "tinkex prefetch --base-model Qwen/Qwen3-8B",
    example = "In a Dockerfile:\n  RUN tinkex prefetch --base-model Qwen/Qwen3-8B --base-model meta-llama/Llama-3.1-8B",
    note = "Uses HF_ENDPOINT, HF_TOKEN, HF_HOME/HF_HUB_CACHE and XDG_CACHE_HOME as tinkex run does."
)]
pub struct PrefetchArgs {
    /// a base model whose tokenizer to fetch, e.g. Qwen/Qwen3-8B (repeatable)
    #[argh(option)]
    pub base_model: Vec<String>,

    /// also fetch this tokenizer: a hub repo id or a tokenizer.json path (repeatable)
    #[argh(option)]
    pub tokenizer: Vec<String>,

    /// print only errors
    #[argh(switch, short = 'q')]
    pub quiet: bool,
}

/// A parsed tokenizer command.
#[derive(Debug)]
pub enum Command {
    /// `tinkex cache [clear]`
    Cache(CacheArgs),
    /// `tinkex prefetch …`
    Prefetch(PrefetchArgs),
}

/// Runs a tokenizer command; Ok holds the exit code.
pub fn execute(command: Command) -> Result<i32> {
    match command {
        Command::Cache(args) => {
            super::logging::init(Verbosity::Normal);
            let options = TokenizerOptions::from_env();
            let dir = options.cache_dir.clone().ok_or_else(|| {
                Error::Usage("no tokenizer cache directory: set XDG_CACHE_HOME or HOME".into())
            })?;
            let text = match args.action {
                None => listing(&dir, &options, SystemTime::now()),
                Some(CacheAction::Clear(_)) => fast::clear(&dir).map(|(files, bytes)| {
                    format!(
                        "removed {files} files ({}) from {}\n",
                        size(bytes),
                        dir.display()
                    )
                }),
            };
            let text = text.map_err(|e| cache_error(&dir, e))?;
            print!("{}", crate::redact::scrub(&text));
            Ok(0)
        }
        Command::Prefetch(args) => prefetch_all(&args),
    }
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

fn prefetch_all(args: &PrefetchArgs) -> Result<i32> {
    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else {
        Verbosity::Normal
    };
    super::logging::init(verbosity);
    let mut specs: Vec<TokenizerSpec> = args
        .base_model
        .iter()
        .map(|m| TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(m)))
        .collect();
    specs.extend(args.tokenizer.iter().map(|t| TokenizerSpec::parse(t)));
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
    Ok(0)
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
