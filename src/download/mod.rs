//! `checkpoint download` below the CLI: fetch a checkpoint's files into a staging directory
//! beside the destination and move it into place only when every file is complete.
//!
//! The Tinker calls go through [`ExportClient`]; the signed URLs are fetched by [`Storage`],
//! an agent that never holds the credential. See docs/download.md for the behaviour.

pub mod fetch;
pub mod names;
mod overrun;
pub mod staging;
pub mod tar;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{ExportClient, SessionEnd, SignedUrls, EXPORT_TTL_SECONDS};
use crate::error::{Error, Result};
pub use fetch::{FetchPolicy, Storage, UrlSource};
pub use names::{Kind, Target};
pub use staging::Staging;

/// URLs are signed again when fewer than this remain before they expire.
pub const RESIGN_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What a finished download reports (the official CLI's JSON document).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// The checkpoint path as given.
    pub checkpoint_path: String,
    /// Where the files are now.
    pub destination: PathBuf,
    /// Bytes downloaded (the extracted bytes, for an archive).
    pub file_size_bytes: u64,
}

/// What a download tells its caller while it runs (the CLI draws progress from it).
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A `weights/` checkpoint: a (billed) training session is being started to export it.
    Exporting,
    /// Bytes of `file` written so far, and its size when known.
    File {
        /// The file's relative name (or `archive`).
        name: &'a str,
        /// Bytes written.
        done: u64,
        /// The whole size, if the server said.
        total: Option<u64>,
    },
    /// The archive is being unpacked.
    Unpacking,
}

/// Where and how to download.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory the destination goes into (`-o`).
    pub out: PathBuf,
    /// Replace an existing destination once the new one is complete.
    pub force: bool,
    /// Stall and resume settings.
    pub policy: FetchPolicy,
}

/// Downloads `target` into `opts.out`; `events` hears progress, and its error (an
/// interruption) stops the download, with the same clean-up as any failure.
pub fn download(
    client: &ExportClient,
    target: &Target,
    opts: &Options,
    events: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<Summary> {
    let destination = target.destination(&opts.out)?;
    staging::refuse_existing(&destination, opts.force)?;
    let staging = Staging::create(&destination, opts.force)?;
    let storage = Storage::new(opts.policy.clone());
    let bytes = match target.kind {
        Kind::External => external(client, &storage, target, false, &staging, events)?,
        Kind::Weights => weights(client, &storage, target, &staging, events)?,
        Kind::Sampler => sampler(client, &storage, target, &staging, events)?,
    };
    staging.commit()?;
    Ok(Summary {
        checkpoint_path: target.path.clone(),
        destination,
        file_size_bytes: bytes,
    })
}

/// The signed URLs of an external-weights checkpoint, signed again when they expire.
struct Signer<'a> {
    client: &'a ExportClient,
    target: &'a Target,
    renew: bool,
    urls: SignedUrls,
}

impl<'a> Signer<'a> {
    fn new(client: &'a ExportClient, target: &'a Target, renew: bool) -> Result<Self> {
        let urls = sign(client, target, renew)?;
        Ok(Signer {
            client,
            target,
            renew,
            urls,
        })
    }

    fn url(&mut self, name: &str, fresh: bool) -> Result<String> {
        if fresh || expiring(self.urls.expires.as_deref()) {
            self.urls = sign(self.client, self.target, self.renew)?;
        }
        self.urls.urls.get(name).cloned().ok_or_else(|| {
            Error::Protocol(format!(
                "the re-signed URLs no longer list {}",
                tar_name(name)
            ))
        })
    }
}

/// One file's view of a [`Signer`].
struct FileUrl<'s, 'a> {
    signer: &'s mut Signer<'a>,
    name: &'s str,
}

impl UrlSource for FileUrl<'_, '_> {
    fn url(&mut self, fresh: bool) -> Result<String> {
        self.signer.url(self.name, fresh)
    }
}

/// Asks for the URLs (and, for a temporary export, renews its lifetime, as the official
/// CLI does each time it signs).
fn sign(client: &ExportClient, target: &Target, renew: bool) -> Result<SignedUrls> {
    let urls = client.external_urls(&target.run, &target.id)?;
    if renew {
        client.renew_ttl(&target.run, &target.id, EXPORT_TTL_SECONDS)?;
    }
    Ok(urls)
}

/// Whether `expires` (RFC 3339) is less than [`RESIGN_MARGIN`] away.
fn expiring(expires: Option<&str>) -> bool {
    let Some(when) = expires.and_then(|e| e.parse::<jiff::Timestamp>().ok()) else {
        return false;
    };
    let left = when.duration_since(jiff::Timestamp::now());
    left < jiff::SignedDuration::try_from(RESIGN_MARGIN).unwrap_or_default()
}

/// Every file of an external-weights checkpoint, in name order; the bytes written.
fn external(
    client: &ExportClient,
    storage: &Storage,
    target: &Target,
    renew: bool,
    staging: &Staging,
    events: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<u64> {
    let mut signer = Signer::new(client, target, renew)?;
    let names = checked_names(&signer.urls)?;
    let mut total = 0;
    for (name, rel) in &names {
        let path = staging.file(rel)?;
        let mut file = create(&path)?;
        let mut source = FileUrl {
            signer: &mut signer,
            name,
        };
        let mut progress = |done, size| {
            events(Event::File {
                name,
                done,
                total: size,
            })
        };
        total += storage.fetch(
            name,
            &mut source,
            &mut file,
            client.deadline(),
            &mut progress,
        )?;
        file.sync_all()
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(total)
}

/// The URL listing's names, each checked, none twice; refused as hostile otherwise.
fn checked_names(urls: &SignedUrls) -> Result<Vec<(String, PathBuf)>> {
    if urls.urls.is_empty() {
        return Err(Error::Protocol(
            "the checkpoint has no files to download".to_string(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(urls.urls.len());
    for name in urls.urls.keys() {
        let rel = names::relative(name).map_err(|what| {
            Error::Protocol(format!(
                "refusing the file name {}: it is {what}",
                tar_name(name)
            ))
        })?;
        if !seen.insert(rel.clone()) {
            return Err(Error::Protocol(format!(
                "the file {} is listed twice",
                tar_name(name)
            )));
        }
        out.push((name.clone(), rel));
    }
    Ok(out)
}

/// A `weights/` checkpoint through a temporary export, cleaned up whatever happens.
fn weights(
    client: &ExportClient,
    storage: &Storage,
    target: &Target,
    staging: &Staging,
    events: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<u64> {
    events(Event::Exporting)?;
    let session = client.start_session()?;
    let exported = client
        .load_weights(&session, &target.path)
        .and_then(|model| client.save_external(&model))
        .and_then(|path| Target::parse(&path).map_err(|_| bad_export(&path)));
    let outcome = exported.and_then(|export| {
        let got = external(client, storage, &export, true, staging, events);
        if let Err(err) = client.delete_checkpoint(&export.run, &export.id) {
            log::warn!(
                "could not delete the temporary export {} ({err}); it expires within the hour",
                export.path
            );
        }
        got
    });
    let end = match &outcome {
        Ok(_) => SessionEnd::Success,
        Err(Error::Interrupted { .. }) => SessionEnd::Interrupted,
        Err(_) => SessionEnd::Errored,
    };
    client.finish_session(session, end);
    outcome
}

fn bad_export(path: &str) -> Error {
    Error::Protocol(format!(
        "exporting the weights failed: the export path {} is not an external_weights path",
        tar_name(path)
    ))
}

/// The archive URL of a sampler checkpoint, asked again when it expires.
struct ArchiveSource<'a> {
    client: &'a ExportClient,
    target: &'a Target,
    current: Option<crate::client::ArchiveUrl>,
}

impl UrlSource for ArchiveSource<'_> {
    fn url(&mut self, fresh: bool) -> Result<String> {
        let stale = match &self.current {
            None => true,
            Some(archive) => fresh || expiring(archive.expires.as_deref()),
        };
        if stale {
            self.current = Some(self.client.archive_url(&self.target.run, &self.target.id)?);
        }
        Ok(self
            .current
            .as_ref()
            .map(|a| a.url.clone())
            .unwrap_or_default())
    }
}

/// A `sampler_weights/` checkpoint: the archive, fetched beside the staging directory and
/// unpacked into it; the extracted bytes.
fn sampler(
    client: &ExportClient,
    storage: &Storage,
    target: &Target,
    staging: &Staging,
    events: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<u64> {
    let archive = staging.dir().with_extension("archive");
    let _guard = crate::cleanup::register(&archive);
    let _remove = RemoveOnDrop(&archive);
    let mut file = create(&archive)?;
    let mut source = ArchiveSource {
        client,
        target,
        current: None,
    };
    let mut progress = |done, size| {
        events(Event::File {
            name: "archive",
            done,
            total: size,
        })
    };
    storage.fetch(
        "the archive",
        &mut source,
        &mut file,
        client.deadline(),
        &mut progress,
    )?;
    drop(file);
    events(Event::Unpacking)?;
    Ok(tar::extract(&archive, staging.dir())?.bytes)
}

/// Removes a file when dropped (the downloaded archive, on every path out).
struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// Creates (or truncates) a file in the staging area, owner-only.
fn create(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

/// A server-given name as shown in a message: quoted, escaped, cut short.
fn tar_name(name: &str) -> String {
    let cut: String = name.chars().take(200).collect();
    format!("{:?}", crate::redact::server_text(&cut))
}
