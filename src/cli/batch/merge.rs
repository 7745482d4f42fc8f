//! The streaming k-way merge behind `tinkex merge`: shard journals into one journal in input order.
//!
//! Memory stays constant: one pending record per journal and one input line at a time. The
//! input is read alongside because only it says which lines must have a record (a blank input
//! line has none, so without the input a blank line and a lost one look the same).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufRead, Write};

use super::input::{id_key, line_id_key};
pub use super::missing::Missing;
use super::record::{self, line_hash, HASH_FIELD};
use crate::bounded::{self, LINE_LIMIT};
use crate::error::{Category, Error};
use crate::pipeline::Tally;

/// A journal to read: its name for messages, and its bytes.
pub struct Source {
    /// The file as the user named it.
    pub label: String,
    /// Its content.
    pub reader: Box<dyn BufRead>,
}

/// Why a merge stopped: the journals are refused, or the output could not be written.
#[derive(Debug)]
pub enum Stop {
    /// Bad journals (exit 2).
    Refused(Error),
    /// Writing the merged output failed.
    Write(io::Error),
}

/// What a merge found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// Records written, by outcome (failed lines by their category).
    pub tally: Tally,
    /// Input lines (not blank) that no journal holds.
    pub missing: Missing,
}

impl Merged {
    /// Writes one record and counts its outcome.
    fn write(&mut self, record: &Record, out: &mut dyn Write) -> Result<(), Stop> {
        out.write_all(&record.bytes).map_err(Stop::Write)?;
        out.write_all(b"\n").map_err(Stop::Write)?;
        match record.failure {
            Some(category) => *self.tally.failed.entry(category).or_default() += 1,
            None => self.tally.ok += 1,
        }
        Ok(())
    }
}

/// One record of a journal: its input line, its bytes (no newline), its failure category, and
/// what it was made from (its id's key and its input line's hash).
struct Record {
    line: usize,
    bytes: Vec<u8>,
    failure: Option<Category>,
    id_key: String,
    hash: String,
}

/// A journal being read: the next record waits in `current`.
struct Journal {
    source: Source,
    row: usize,
    current: Option<Record>,
}

impl Journal {
    /// Reads the next record into `current`; checks it is complete and after the previous one.
    fn advance(&mut self) -> Result<(), Stop> {
        let previous = self.current.take().map(|r| r.line);
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            let n = bounded::read_line(&mut self.source.reader, &mut bytes, LINE_LIMIT)
                .map_err(|e| self.refuse(&format!("row {}: cannot read it: {e}", self.row + 1)))?;
            if n == 0 {
                return Ok(());
            }
            self.row += 1;
            if bytes.last() != Some(&b'\n') {
                if bytes.trim_ascii().is_empty() {
                    return Ok(());
                }
                return Err(self.torn());
            }
            bytes.pop();
            if !bytes.trim_ascii().is_empty() {
                break;
            }
        }
        let head = record::parse(&bytes).ok_or_else(|| self.not_a_record())?;
        let line = head.line;
        let hash = head.input_hash.ok_or_else(|| {
            self.refuse(&format!(
                "row {} has no \"{HASH_FIELD}\" (written by an older tinkex), so it cannot be checked against the input",
                self.row
            ))
        })?;
        if let Some(previous) = previous.filter(|p| line <= *p) {
            return Err(Stop::Refused(Error::Input {
                message: format!(
                    "{}: line {line} comes after line {previous}; a journal must be in input order",
                    self.source.label
                ),
                hint: Some(
                    "a resume that was interrupted can leave it so: run that shard again with --resume, which puts its journal back in order".into(),
                ),
            }));
        }
        self.current = Some(Record {
            line,
            bytes,
            failure: head.failure,
            id_key: id_key(&head.id),
            hash,
        });
        Ok(())
    }

    fn refuse(&self, what: &str) -> Stop {
        Stop::Refused(Error::input(format!("{}: {what}", self.source.label)))
    }

    fn not_a_record(&self) -> Stop {
        self.refuse(&format!(
            "row {} is not a tinkex journal record ({})",
            self.row,
            record::SHAPE
        ))
    }

    fn torn(&self) -> Stop {
        Stop::Refused(Error::Input {
            message: format!(
                "{}: the last line is torn (its task was interrupted while writing)",
                self.source.label
            ),
            hint: Some(
                "run that shard again with the same flags and --resume, then merge again".into(),
            ),
        })
    }
}

/// The input, read one line at a time to learn which line numbers need a record.
struct InputWalk<'a> {
    reader: &'a mut dyn BufRead,
    label: String,
    /// Lines read so far.
    read: usize,
    buffer: Vec<u8>,
}

impl InputWalk<'_> {
    /// Reads the next line: Some(whether it needs a record), or None at the end.
    fn next_line(&mut self) -> Result<Option<bool>, Stop> {
        self.buffer.clear();
        let n =
            bounded::read_line(&mut self.reader, &mut self.buffer, LINE_LIMIT).map_err(|e| {
                Stop::Refused(Error::input(format!(
                    "{}: line {}: cannot read it: {e}",
                    self.label,
                    self.read + 1
                )))
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.read += 1;
        // As batch mode numbers lines: a line is blank when its UTF-8 text is only whitespace.
        let text = self.buffer.strip_suffix(b"\n").unwrap_or(&self.buffer);
        let blank = std::str::from_utf8(text).is_ok_and(|t| t.trim().is_empty());
        Ok(Some(!blank))
    }

    /// Notes every line before `line` that needs a record as missing; then whether `line`
    /// itself needs one (None: the input is shorter).
    fn walk_to(&mut self, line: usize, missing: &mut Missing) -> Result<Option<bool>, Stop> {
        while self.read < line {
            match self.next_line()? {
                None => return Ok(None),
                Some(needed) if self.read == line => return Ok(Some(needed)),
                Some(true) => missing.note(self.read),
                Some(false) => {}
            }
        }
        Ok(None)
    }

    /// Checks that the input has a line `line` that needs a record (the one `journal` holds).
    fn expect_record(
        &mut self,
        line: usize,
        journal: &Journal,
        missing: &mut Missing,
    ) -> Result<(), Stop> {
        match self.walk_to(line, missing)? {
            Some(true) => self.same_line(line, journal),
            Some(false) => Err(journal.refuse(&format!(
                "has a record for line {line}, which is blank in {}",
                self.label
            ))),
            None => Err(journal.refuse(&format!(
                "has a record for line {line}, but {} has {} lines",
                self.label, self.read
            ))),
        }
    }
}

impl InputWalk<'_> {
    /// Checks that the record `journal` holds was made from the input line just read.
    fn same_line(&self, line: usize, journal: &Journal) -> Result<(), Stop> {
        let Some(record) = &journal.current else {
            return Ok(());
        };
        let text = self.buffer.strip_suffix(b"\n").unwrap_or(&self.buffer);
        let id = std::str::from_utf8(text)
            .ok()
            .and_then(|t| line_id_key(t, line));
        if record.hash != line_hash(text) || id.as_deref() != Some(record.id_key.as_str()) {
            return Err(Stop::Refused(Error::Input {
                message: format!(
                    "{}: its record for line {line} was made from another input: line {line} of {} differs",
                    journal.source.label, self.label
                ),
                hint: Some("merge journals with the --input they were made from".into()),
            }));
        }
        Ok(())
    }
}

/// The input to check the journals against: its reader and its name for messages.
pub type Input<'a> = (&'a mut dyn BufRead, &'a str);

/// Merges `journals` into `out` in input order, checking them against `input` as it goes
/// (without an input, only the journals' own order and overlaps are checked).
pub fn merge(
    input: Option<Input>,
    journals: Vec<Source>,
    out: &mut dyn Write,
) -> Result<Merged, Stop> {
    let mut walk = input.map(|(reader, label)| InputWalk {
        reader,
        label: label.to_string(),
        read: 0,
        buffer: Vec::new(),
    });
    let mut journals: Vec<Journal> = journals
        .into_iter()
        .map(|source| Journal {
            source,
            row: 0,
            current: None,
        })
        .collect();
    let mut heap = BinaryHeap::new();
    for (index, journal) in journals.iter_mut().enumerate() {
        journal.advance()?;
        if let Some(record) = &journal.current {
            heap.push(Reverse((record.line, index)));
        }
    }
    let mut merged = Merged::default();
    let mut last: Option<(usize, usize)> = None;
    while let Some(Reverse((line, index))) = heap.pop() {
        if let Some((_, earlier)) = last.filter(|(l, _)| *l == line) {
            return Err(Stop::Refused(Error::input(format!(
                "line {line} is in both {} and {} (overlapping shards)",
                journals[earlier].source.label, journals[index].source.label
            ))));
        }
        let journal = &mut journals[index];
        if let Some(walk) = walk.as_mut() {
            walk.expect_record(line, journal, &mut merged.missing)?;
        }
        merged.missing.close();
        if let Some(record) = &journal.current {
            merged.write(record, out)?;
        }
        journal.advance()?;
        if let Some(record) = &journal.current {
            heap.push(Reverse((record.line, index)));
        }
        last = Some((line, index));
    }
    if let Some(walk) = walk.as_mut() {
        while let Some(needed) = walk.next_line()? {
            if needed {
                merged.missing.note(walk.read);
            }
        }
    }
    merged.missing.close();
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(label: &str, text: &str) -> Source {
        Source {
            label: label.into(),
            reader: Box::new(io::Cursor::new(text.as_bytes().to_vec())),
        }
    }

    /// The hash of line `line` of [`INPUT`] (its lines hold no id: each one's id is its number).
    fn hash(line: usize) -> String {
        let text = INPUT.split('\n').nth(line - 1).unwrap_or("past the end");
        line_hash(text.as_bytes())
    }

    fn ok(line: usize) -> String {
        let h = hash(line);
        format!("{{\"id\":{line},\"line\":{line},\"sequences\":[],\"input_hash\":\"{h}\"}}\n")
    }

    fn failed(line: usize, category: &str) -> String {
        let h = hash(line);
        format!("{{\"id\":{line},\"line\":{line},\"error\":{{\"category\":\"{category}\",\"message\":\"m\"}},\"input_hash\":\"{h}\"}}\n")
    }

    fn run(input: &str, journals: &[(&str, String)]) -> Result<(String, Merged), String> {
        let sources = journals.iter().map(|(l, t)| source(l, t)).collect();
        let mut out = Vec::new();
        let mut input = input.as_bytes();
        match merge(Some((&mut input, "--input in.jsonl")), sources, &mut out) {
            Ok(merged) => Ok((String::from_utf8(out).unwrap(), merged)),
            Err(Stop::Refused(e)) => Err(e.to_string()),
            Err(Stop::Write(e)) => panic!("write failed: {e}"),
        }
    }

    const INPUT: &str = "{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n\n{\"prompt\":\"d\"}\n{\"prompt\":\"e\"}\n{\"prompt\":\"f\"}\n";

    #[test]
    fn journals_interleave_into_input_order_whatever_their_order() {
        let a = ok(1) + &ok(4) + &failed(6, "server");
        let b = ok(2) + &ok(5);
        let (out, merged) = run(INPUT, &[("b.jsonl", b), ("a.jsonl", a)]).unwrap();
        let expected = ok(1) + &ok(2) + &ok(4) + &ok(5) + &failed(6, "server");
        assert_eq!(out, expected);
        assert_eq!(merged.tally.ok, 4);
        assert_eq!(merged.tally.failed.get(&Category::Server), Some(&1));
        assert_eq!(merged.missing, Missing::default());
    }

    #[test]
    fn missing_lines_are_ranges_and_blank_lines_do_not_split_them() {
        let (out, merged) = run(INPUT, &[("a", ok(1) + &ok(6))]).unwrap();
        assert_eq!(out, ok(1) + &ok(6));
        assert_eq!(merged.missing.shown, [(2, 5)]);
        assert_eq!((merged.missing.ranges, merged.missing.lines), (1, 3));
        assert_eq!(merged.missing.describe(), "lines 2-5");
        let (_, merged) = run(INPUT, &[("a", ok(2) + &ok(4))]).unwrap();
        assert_eq!(merged.missing.describe(), "lines 1, 5-6");
    }

    #[test]
    fn refusals_name_the_file_and_the_line() {
        let overlap = run(INPUT, &[("a", ok(1) + &ok(2)), ("b", ok(2))]).unwrap_err();
        assert_eq!(overlap, "line 2 is in both a and b (overlapping shards)");
        let disorder = run(INPUT, &[("a", ok(2) + &ok(1))]).unwrap_err();
        assert_eq!(
            disorder,
            "a: line 1 comes after line 2; a journal must be in input order"
        );
        let twice = run(INPUT, &[("a", ok(2) + &ok(2))]).unwrap_err();
        assert_eq!(
            twice,
            "a: line 2 comes after line 2; a journal must be in input order"
        );
        let blank = run(INPUT, &[("a", ok(3))]).unwrap_err();
        assert_eq!(
            blank,
            "a: has a record for line 3, which is blank in --input in.jsonl"
        );
        let past = run(INPUT, &[("a", ok(7))]).unwrap_err();
        assert_eq!(
            past,
            "a: has a record for line 7, but --input in.jsonl has 6 lines"
        );
        let torn = run(INPUT, &[("a", ok(1) + "{\"id\":2,\"li")]).unwrap_err();
        assert_eq!(
            torn,
            "a: the last line is torn (its task was interrupted while writing)"
        );
        let junk = run(INPUT, &[("a", ok(1) + "\n[1]\n")]).unwrap_err();
        assert_eq!(
            junk,
            format!(
                "a: row 3 is not a tinkex journal record ({})",
                record::SHAPE
            )
        );
    }

    #[test]
    fn blank_journal_rows_are_tolerated_and_every_category_counts_as_itself() {
        let journal = format!("\n{}{}  ", failed(1, "user"), failed(2, "timeout"));
        let (out, merged) = run(INPUT, &[("a", journal)]).unwrap();
        assert_eq!(out, failed(1, "user") + &failed(2, "timeout"));
        assert_eq!(merged.tally.failed.get(&Category::User), Some(&1));
        assert_eq!(merged.tally.failed.get(&Category::Timeout), Some(&1));
        assert_eq!(merged.tally.failed.get(&Category::Unexpected), None);
    }

    #[test]
    fn records_not_made_from_the_input_line_are_refused() {
        let odd = failed(1, "odd");
        let err = run(INPUT, &[("a", odd)]).unwrap_err();
        assert!(
            err.contains("row 1 is not a tinkex journal record"),
            "{err}"
        );
        let other = ok(1).replace(&hash(1), &hash(2));
        let err = run(INPUT, &[("a", other)]).unwrap_err();
        assert_eq!(err, "a: its record for line 1 was made from another input: line 1 of --input in.jsonl differs");
        let wrong_id = ok(2).replacen("\"id\":2", "\"id\":7", 1);
        assert!(run(INPUT, &[("a", wrong_id)])
            .unwrap_err()
            .contains("line 2 of --input"));
        let unhashed = "{\"id\":1,\"line\":1,\"sequences\":[]}\n".to_string();
        let err = run(INPUT, &[("a", unhashed)]).unwrap_err();
        assert!(err.contains("has no \"input_hash\""), "{err}");
        let not_utf8 = String::from_utf8_lossy(b"{\"id\":\"\xff\"}").replace('\u{fffd}', "\u{1}");
        assert!(run(INPUT, &[("a", not_utf8 + "\n")]).is_err());
    }

    #[test]
    fn an_endless_line_is_an_error_naming_the_row() {
        let mut out = Vec::new();
        let zeros = Source {
            label: "z".into(),
            reader: Box::new(io::BufReader::new(io::Read::take(
                io::repeat(0),
                (LINE_LIMIT + 2) as u64,
            ))),
        };
        let mut input = INPUT.as_bytes();
        match merge(
            Some((&mut input, "--input in.jsonl")),
            vec![zeros],
            &mut out,
        ) {
            Err(Stop::Refused(e)) => assert_eq!(
                e.to_string(),
                "z: row 1: cannot read it: a line is longer than the 64 MiB limit"
            ),
            other => panic!("{:?}", other.err()),
        }
    }
}
