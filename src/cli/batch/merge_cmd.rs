//! `tinkex merge --input FILE JOURNAL… [--output FILE]`: files opened, output chosen, summary and
//! exit code as batch mode gives them for the failed lines the journals hold.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use super::merge::{merge, Merged, Source, Stop};
use super::summary::{breakdown, failure};
use crate::cli::logging::STATUS_TARGET;
use crate::error::{Error, Result};

/// What `tinkex merge` was asked to do, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConfig {
    /// `--input`: the batch's input file.
    pub input: PathBuf,
    /// The journals, as given.
    pub journals: Vec<PathBuf>,
    /// `--output`, else stdout.
    pub output: Option<PathBuf>,
    /// `--allow-missing`.
    pub allow_missing: bool,
}

impl MergeConfig {
    /// Checks what argh cannot: `--input` and at least one journal are given, and the output
    /// is not one of the journals.
    pub fn new(
        input: Option<PathBuf>,
        journals: Vec<PathBuf>,
        output: Option<PathBuf>,
        allow_missing: bool,
    ) -> Result<MergeConfig> {
        let input = input.ok_or_else(|| {
            Error::Usage(
                "tinkex merge needs --input FILE (the batch's input file: it says which lines must have a record)"
                    .into(),
            )
        })?;
        if journals.is_empty() {
            return Err(Error::Usage(
                "tinkex merge needs the journals to merge (tinkex merge --input FILE JOURNAL…)"
                    .into(),
            ));
        }
        if let Some(out) = &output {
            if journals.iter().chain([&input]).any(|j| same_file(j, out)) {
                return Err(Error::input(format!(
                    "--output {}: is one of the files being read",
                    out.display()
                )));
            }
        }
        Ok(MergeConfig {
            input,
            journals,
            output,
            allow_missing,
        })
    }
}

/// Whether `a` and `b` are one file: the same device and inode (links of any kind included).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// The most journals open at once; more are merged in passes through unnamed temp files
/// (gone with the process on every exit path), so a low `ulimit -n` is never reached.
const FAN_IN: usize = 16;

/// The journals as at most [`FAN_IN`] sources: groups merged ahead into temp files, never
/// more than [`FAN_IN`] of those kept at once either.
fn sources(journals: &[PathBuf]) -> Result<Vec<Source>> {
    let open_all = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|path| {
                Ok(Source {
                    label: path.display().to_string(),
                    reader: Box::new(open(path, "")?),
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    if journals.len() <= FAN_IN {
        return open_all(journals);
    }
    let mut merged: Vec<Source> = Vec::new();
    for group in journals.chunks(FAN_IN) {
        let label = format!(
            "one of {} … {}",
            group[0].display(),
            group[group.len() - 1].display()
        );
        merged.push(merge_ahead(open_all(group)?, label)?);
        if merged.len() == FAN_IN {
            let label = format!(
                "one of the journals before {}",
                group[group.len() - 1].display()
            );
            let all = std::mem::take(&mut merged);
            merged.push(merge_ahead(all, label)?);
        }
    }
    Ok(merged)
}

/// Merges `sources` (checked for order and overlaps) into an unnamed temp file, read back.
fn merge_ahead(sources: Vec<Source>, label: String) -> Result<Source> {
    use std::io::{Seek, SeekFrom};
    let temp = || Error::Unexpected("cannot create a temp file to merge in passes".into());
    let mut file = tempfile::tempfile().map_err(|_| temp())?;
    {
        let mut out = io::BufWriter::new(&mut file);
        match merge(None, sources, &mut out) {
            Ok(_) => {}
            Err(Stop::Refused(e)) => return Err(e),
            Err(Stop::Write(e)) => {
                return Err(Error::io("cannot write a temp file to merge in passes", e))
            }
        }
        out.flush()
            .map_err(|e| Error::io("cannot write a temp file to merge in passes", e))?;
    }
    file.seek(SeekFrom::Start(0)).map_err(|_| temp())?;
    Ok(Source {
        label,
        reader: Box::new(BufReader::new(file)),
    })
}

fn open(path: &Path, what: &str) -> Result<BufReader<File>> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| Error::unreadable(&format!("{what}{}", path.display()), &e))
}

/// Runs the merge; the error carries batch mode's exit code for the failed lines found.
pub fn execute(config: &MergeConfig) -> Result<()> {
    let input_label = format!("--input {}", config.input.display());
    let mut input = open(&config.input, "--input ")?;
    let sources = sources(&config.journals)?;
    let checked = |merged: Merged| match merged.missing.lines {
        0 => Ok(merged),
        _ if config.allow_missing => Ok(merged),
        _ => Err(Stop::Refused(missing_error(&input_label, &merged))),
    };
    let merged = match &config.output {
        Some(path) => to_file(path, |out| {
            merge(Some((&mut input, &input_label)), sources, out).and_then(checked)
        })?,
        None => match to_stdout(|out| {
            merge(Some((&mut input, &input_label)), sources, out).and_then(checked)
        })? {
            Some(merged) => merged,
            // stdout's reader went away (`| head`): not an error.
            None => return Ok(()),
        },
    };
    conclude(config, &merged)
}

/// Writes the merge to `path` atomically: a refusal leaves no file (and any old one untouched).
fn to_file(
    path: &Path,
    run: impl FnOnce(&mut dyn Write) -> Result<Merged, Stop>,
) -> Result<Merged> {
    let mut outcome = None;
    let written = crate::cli::sink::write_atomically(path, |out| match run(out) {
        Ok(merged) => {
            outcome = Some(Ok(merged));
            Ok(())
        }
        Err(Stop::Write(e)) => Err(e),
        Err(Stop::Refused(e)) => {
            outcome = Some(Err(e));
            Err(io::Error::other("merge refused"))
        }
    });
    match (outcome, written) {
        (Some(Err(refused)), _) => Err(refused),
        (_, Err(e)) => Err(e),
        (Some(Ok(merged)), Ok(())) => Ok(merged),
        (None, Ok(())) => Err(Error::Unexpected("merge produced no outcome".into())),
    }
}

/// Merges into an unnamed temp file (gone with the process on every exit path) and copies it
/// to stdout only once the whole merge is checked, so a refusal writes no byte to stdout, as
/// with `--output`; None when stdout's reader went away.
fn to_stdout(run: impl FnOnce(&mut dyn Write) -> Result<Merged, Stop>) -> Result<Option<Merged>> {
    use std::io::{Seek, SeekFrom};
    let spool_error = |e| Error::io("cannot write a temp file for the merge", e);
    let mut spool = tempfile::tempfile().map_err(spool_error)?;
    let merged = {
        let mut out = io::BufWriter::new(&mut spool);
        match run(&mut out).and_then(|m| out.flush().map(|()| m).map_err(Stop::Write)) {
            Ok(merged) => merged,
            Err(Stop::Write(e)) => return Err(spool_error(e)),
            Err(Stop::Refused(e)) => return Err(e),
        }
    };
    spool.seek(SeekFrom::Start(0)).map_err(spool_error)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match io::copy(&mut spool, &mut out).and_then(|_| out.flush()) {
        Ok(()) => Ok(Some(merged)),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(None),
        Err(e) => Err(Error::io("cannot write to stdout", e)),
    }
}

/// The refusal for lines no journal holds (without `--allow-missing`).
fn missing_error(input_label: &str, merged: &Merged) -> Error {
    let missing = &merged.missing;
    // Stdout and --output alike get nothing from a refused merge.
    Error::Input {
        message: format!(
            "no journal holds {} of {input_label} ({} in all); nothing was written",
            missing.describe(),
            missing.lines
        ),
        hint: Some("run the shards that hold them (with --resume), or pass --allow-missing".into()),
    }
}

/// The summary line and the exit code.
fn conclude(config: &MergeConfig, merged: &Merged) -> Result<()> {
    let missing = &merged.missing;
    let tally = &merged.tally;
    let total = tally.ok + tally.failures() + missing.lines;
    let journals = config.journals.len();
    let plural = if journals == 1 { "" } else { "s" };
    let mut summary = format!("merged {journals} journal{plural}: {}/{total} ok", tally.ok);
    if tally.failures() > 0 {
        summary += &format!(", {} failed ({})", tally.failures(), breakdown(tally));
    }
    if missing.lines > 0 {
        log::warn!(
            "no journal holds {} of --input {}; merged without them",
            missing.describe(),
            config.input.display()
        );
        summary += &format!(", {} missing", missing.lines);
    }
    log::info!(target: STATUS_TARGET, "{summary}");
    match tally.failures() {
        0 => Ok(()),
        _ => Err(failure(tally, ("prompt", "sampled"))),
    }
}
