//! Puts a resumed journal back in input order, so it merges (and compares) like an unbroken run.
//!
//! A resume keeps the journal's successes and appends the retried lines after them, so a
//! journal whose failed lines were retried is two (or, after interrupted resumes, more) runs
//! each in input order. `tinkex merge` needs one, so the runs are merged in place: streamed,
//! one pending line per run, the file replaced atomically.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;

use super::merge::{merge, Source, Stop};
use crate::error::{Error, Result};

/// More runs than this is not a journal a resume wrote; it is left as it is.
const MAX_RUNS: usize = 64;

#[derive(Deserialize)]
struct LineOnly {
    line: Option<u64>,
}

/// Where each in-order run of the journal starts and ends (byte offsets); None when a row is
/// not a journal record.
fn runs(path: &Path) -> io::Result<Option<Vec<(u64, u64)>>> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut runs = Vec::new();
    let (mut start, mut offset, mut previous) = (0u64, 0u64, 0u64);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let n = crate::bounded::read_line(&mut reader, &mut bytes, crate::bounded::LINE_LIMIT)?;
        if n == 0 || bytes.last() != Some(&b'\n') {
            break;
        }
        if !bytes.trim_ascii().is_empty() {
            let Some(line) = serde_json::from_slice::<LineOnly>(&bytes)
                .ok()
                .and_then(|l| l.line)
            else {
                return Ok(None);
            };
            if line <= previous {
                runs.push((start, offset));
                start = offset;
            }
            previous = line;
        }
        offset += n as u64;
    }
    runs.push((start, offset));
    Ok(Some(runs))
}

/// Rewrites the journal at `path` in input order if a resume left it in several runs.
pub fn restore_order(path: &Path) -> Result<()> {
    let context = |what: &str| format!("--output {}: cannot {what}", path.display());
    let runs = match runs(path).map_err(|e| Error::io(context("read it back"), e))? {
        Some(runs) if runs.len() > 1 && runs.len() <= MAX_RUNS => runs,
        Some(runs) if runs.len() > MAX_RUNS => {
            log::warn!(
                "--output {}: {} runs out of input order; left as it is",
                path.display(),
                runs.len()
            );
            return Ok(());
        }
        _ => return Ok(()),
    };
    log::debug!(
        "putting the {} runs of the journal back in input order",
        runs.len()
    );
    let sources = runs
        .iter()
        .map(|&(start, end)| {
            let mut file = File::open(path)?;
            file.seek(SeekFrom::Start(start))?;
            Ok(Source {
                label: format!("--output {} (from byte {start})", path.display()),
                reader: Box::new(BufReader::new(file.take(end - start))),
            })
        })
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| Error::io(context("read it back"), e))?;
    let mut refused = None;
    let written = crate::cli::sink::write_atomically(path, |out| match merge(None, sources, out) {
        Ok(_) => Ok(()),
        Err(Stop::Write(e)) => Err(e),
        Err(Stop::Refused(e)) => {
            refused = Some(e);
            Err(io::Error::other("not reordered"))
        }
    });
    match (written, refused) {
        // A line held twice is not something a resume writes: keep the journal untouched.
        (_, Some(reason)) => {
            log::warn!("{}; left out of input order", reason);
            Ok(())
        }
        (result, None) => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: usize) -> String {
        // What the journal writes: a result's field and its input line's hash.
        format!("{{\"id\":{line},\"line\":{line},\"sequences\":[],\"input_hash\":\"00\"}}\n")
    }

    #[test]
    fn retried_lines_go_back_to_their_places() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let runs: String = [1, 3, 6, 2, 4, 7, 5].iter().map(|&l| record(l)).collect();
        std::fs::write(&path, runs).unwrap();
        restore_order(&path).unwrap();
        let sorted: String = (1..=7).map(record).collect();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), sorted);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left");
    }

    #[test]
    fn an_ordered_or_foreign_journal_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        for content in [
            record(1) + &record(2),
            record(2) + "not json\n" + &record(1),
            record(2) + &record(1) + &record(2),
        ] {
            std::fs::write(&path, &content).unwrap();
            restore_order(&path).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        }
    }
}
