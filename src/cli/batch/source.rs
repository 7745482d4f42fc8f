//! The batch input file: stdin spooled to a temp file, then read line by line (never all at once).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;

use super::ids::{line_at, IdIndex, LineSet};
use super::input::{id_key, line_id_key, parse_line, BatchItem, LineDefaults, LineInput};
use super::journal::Resumed;
use super::record::{line_hash, Kind};
use super::shard::Shard;
use serde_json::Value;

use crate::bounded::{self, LINE_LIMIT};
use crate::cli::prompt::{readable_before, Prompt, Source};
use crate::error::{Error, Result};
use crate::Deadline;

/// How many bad lines the refusal lists.
const SHOWN_ERRORS: usize = 10;

/// A readable input file, opened once; stdin and pipes are first spooled to an unnamed
/// temp file (it has no name to leak or to plant a symlink at, and vanishes with the process).
#[derive(Debug)]
pub struct InputFile {
    file: Arc<File>,
    label: String,
    /// The device and inode of a named input (or of a file redirected to stdin).
    identity: Option<(u64, u64)>,
}

/// Hashes input lines by number for the journal, reading forward as records arrive in order.
#[derive(Debug)]
pub struct LineHasher {
    reader: BufReader<At>,
    /// Lines read so far.
    read: usize,
}

impl LineHasher {
    /// The hash of line `number` (1-based) of the input.
    pub fn hash_of(&mut self, number: usize) -> io::Result<String> {
        if number <= self.read {
            self.reader.seek(SeekFrom::Start(0))?;
            self.read = 0;
        }
        let mut bytes = Vec::new();
        while self.read < number {
            bytes.clear();
            if bounded::read_line(&mut self.reader, &mut bytes, LINE_LIMIT)? == 0 {
                return Err(io::Error::other(format!("the input has no line {number}")));
            }
            self.read += 1;
        }
        Ok(line_hash(bytes.strip_suffix(b"\n").unwrap_or(&bytes)))
    }
}

/// A reader of the shared input with its own position (`pread`), so passes do not interfere.
#[derive(Debug)]
struct At {
    file: Arc<File>,
    position: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for At {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.position = match to {
            SeekFrom::Start(at) => at,
            _ => return Err(io::Error::other("input readers seek from the start only")),
        };
        Ok(self.position)
    }
}

/// What the validation pass learned.
#[derive(Debug)]
pub struct Scan {
    /// How many prompts the input holds (with `--shard`, the shard's lines only).
    pub count: usize,
    /// The lines whose id the resumed journal already holds with a success.
    pub done: LineSet,
    /// How many lines are conversations to render (chat mode).
    pub chat_lines: usize,
}

/// How one kind of batch reads its lines (`run --input` and `score --input` differ).
pub trait LineFormat {
    /// A parsed line.
    type Item;
    /// What the lines hold, for messages ("no prompts (the file is empty)").
    const ITEMS: &'static str = "prompts";
    /// What a refused batch did not do ("nothing was sampled").
    const UNDONE: &'static str = "nothing was sampled";
    /// Parses and checks one non-blank line; the error names what is wrong.
    fn parse(&self, text: &str, line: usize) -> std::result::Result<Self::Item, String>;
    /// The line's id (its line number when it gives none).
    fn id<'i>(&self, item: &'i Self::Item) -> &'i Value;
    /// Whether the line is a conversation to render (the chat setup is read once for all).
    fn needs_chat(&self, item: &Self::Item) -> bool;
    /// What a success of this command is (a journal of the other is refused).
    const RESULTS: Kind = Kind::Run;
}

/// `run --input` lines: the flags' defaults, and `--tokens-only`'s restriction.
pub struct RunLines<'a> {
    /// The single-run flags every line starts from.
    pub defaults: &'a LineDefaults,
    /// `--tokens-only`.
    pub tokens_only: bool,
}

impl LineFormat for RunLines<'_> {
    type Item = BatchItem;

    fn parse(&self, text: &str, line: usize) -> std::result::Result<BatchItem, String> {
        let item = parse_line(text, line, self.defaults)?;
        match line_problem(&item, self.tokens_only) {
            Some(problem) => Err(problem),
            None => Ok(item),
        }
    }

    fn id<'i>(&self, item: &'i BatchItem) -> &'i Value {
        &item.id
    }

    fn needs_chat(&self, item: &BatchItem) -> bool {
        needs_chat(item, self.defaults)
    }
}

/// One non-blank input line: its 1-based number, where it starts, and its text.
struct Line {
    number: usize,
    offset: u64,
    text: Result<String, String>,
}

impl InputFile {
    /// Opens `--input`, spooling stdin (or a pipe) to a temp file so memory stays flat; a
    /// pipe that stays open without data ends at `deadline`.
    pub fn open(source: &Source, deadline: &Deadline) -> Result<InputFile> {
        let identity = |file: &File| file.metadata().ok().map(|m| (m.dev(), m.ino()));
        let named = match source {
            Source::File(path) => File::open(path).ok().as_ref().and_then(identity),
            // `--input - < out.jsonl`: the redirected file is the input.
            Source::Stdin => io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(File::from)
                .as_ref()
                .and_then(identity),
        };
        let (file, label) = match source {
            Source::File(path) => {
                let label = format!("--input {}", path.display());
                let file = File::open(path).map_err(|e| Error::unreadable(&label, &e))?;
                let kind = file
                    .metadata()
                    .map_err(|e| Error::unreadable(&label, &e))?
                    .file_type();
                if kind.is_dir() {
                    return Err(Error::input(format!("{label}: is a directory")));
                }
                // A pipe or device can be read only once, and the input is read twice.
                let file = match kind.is_file() {
                    true => file,
                    false => spool(file, &label, deadline)?,
                };
                (file, label)
            }
            Source::Stdin => (
                spool(io::stdin().lock(), "--input - (stdin)", deadline)?,
                "--input - (stdin)".to_string(),
            ),
        };
        Ok(InputFile {
            file: Arc::new(file),
            label,
            identity: named,
        })
    }

    /// A buffered reader of the input from its start, independent of every other.
    fn reader_from_start(&self) -> BufReader<At> {
        BufReader::new(At {
            file: Arc::clone(&self.file),
            position: 0,
        })
    }

    /// Non-blank lines with their numbers and offsets; a line that is not UTF-8 holds an error.
    /// A line past [`LINE_LIMIT`] (or a read error) is the last item: nothing after it is read.
    fn lines(&self) -> impl Iterator<Item = Line> + Send + 'static {
        let mut reader = self.reader_from_start();
        let (mut number, mut offset, mut ended) = (0usize, 0u64, false);
        std::iter::from_fn(move || loop {
            if ended {
                return None;
            }
            let mut bytes = Vec::new();
            let start = offset;
            number += 1;
            let text = match bounded::read_line(&mut reader, &mut bytes, LINE_LIMIT) {
                Ok(0) => return None,
                Ok(n) => {
                    offset += n as u64;
                    if bytes.last() == Some(&b'\n') {
                        bytes.pop();
                    }
                    String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())
                }
                Err(e) => {
                    ended = true;
                    Err(format!("cannot read it: {e}"))
                }
            };
            match text {
                Ok(text) if text.trim().is_empty() => continue,
                text => {
                    return Some(Line {
                        number,
                        offset: start,
                        text,
                    })
                }
            }
        })
    }

    /// The first pass: every line parsed and checked (ids unique, kept as hashes), and the
    /// lines `resumed` already holds marked; refuses the batch if any line is bad.
    #[cfg(test)]
    pub fn validate(
        &self,
        defaults: &LineDefaults,
        tokens_only: bool,
        resumed: &mut Resumed,
    ) -> Result<Scan> {
        self.validate_shard(defaults, tokens_only, resumed, None)
    }

    /// [`validate`](Self::validate) for one shard: the whole input is still checked (so every
    /// shard agrees), but only the shard's lines are counted and looked up in the journal.
    pub fn validate_shard(
        &self,
        defaults: &LineDefaults,
        tokens_only: bool,
        resumed: &mut Resumed,
        shard: Option<Shard>,
    ) -> Result<Scan> {
        let format = RunLines {
            defaults,
            tokens_only,
        };
        self.validate_with(&format, resumed, shard)
    }

    /// [`InputFile::validate_shard`] for lines of any format.
    pub fn validate_with<F: LineFormat>(
        &self,
        format: &F,
        resumed: &mut Resumed,
        shard: Option<Shard>,
    ) -> Result<Scan> {
        // Where each id was first seen: (offset, line number), to read it back on a hash match.
        let mut ids: IdIndex<(u64, usize)> = IdIndex::default();
        let mut reader = self.reader_from_start();
        let mut scan = Scan {
            count: 0,
            done: LineSet::default(),
            chat_lines: 0,
        };
        let mut bad = BadLines::default();
        let mut prompts = 0usize;
        for line in self.lines() {
            let number = line.number;
            let hash = line.text.as_ref().ok().map(|t| line_hash(t.as_bytes()));
            match self.check(line, format, &mut ids, &mut reader)? {
                Err(problem) => bad.note(number, problem),
                Ok(_) if shard.is_some_and(|s| !s.takes(number)) => prompts += 1,
                Ok((item, key)) => {
                    prompts += 1;
                    scan.count += 1;
                    scan.chat_lines += usize::from(format.needs_chat(&item));
                    if resumed.contains(&key, number, hash.as_deref().unwrap_or(""))? {
                        scan.done.insert(number);
                    }
                }
            }
        }
        bad.refuse(&self.label, F::UNDONE)?;
        resumed.check_against(self.identity, F::RESULTS)?;
        resumed.stamp = Some(LineHasher {
            reader: self.reader_from_start(),
            read: 0,
        });
        if prompts == 0 {
            return Err(Error::input(format!(
                "{}: no {} (the file is empty)",
                self.label,
                F::ITEMS
            )));
        }
        Ok(scan)
    }

    /// One line parsed and checked, its id recorded; the item and its id key, or the problem.
    fn check<F: LineFormat>(
        &self,
        line: Line,
        format: &F,
        ids: &mut IdIndex<(u64, usize)>,
        reader: &mut BufReader<At>,
    ) -> Result<std::result::Result<(F::Item, String), String>> {
        let item = match line.text.and_then(|t| format.parse(&t, line.number)) {
            Ok(item) => item,
            Err(message) => return Ok(Err(message)),
        };
        let id = format.id(&item);
        let key = id_key(id);
        let earlier = ids.find(&key, |(at, number)| {
            let text = line_at(reader, at).map_err(|e| self.read_error(e))?;
            Ok::<_, Error>(line_id_key(&text, number).as_deref() == Some(key.as_str()))
        })?;
        if let Some((_, first)) = earlier {
            return Ok(Err(format!("id {id} repeats line {first}")));
        }
        ids.insert_new(&key, (line.offset, line.number));
        Ok(Ok((item, key)))
    }

    fn read_error(&self, error: io::Error) -> Error {
        Error::unreadable(&self.label, &error)
    }

    /// The second pass: items in input order (already validated, so bad lines cannot occur).
    pub fn items(
        &self,
        defaults: LineDefaults,
    ) -> impl Iterator<Item = BatchItem> + Send + 'static {
        self.lines().filter_map(move |line| {
            line.text
                .ok()
                .and_then(|t| parse_line(&t, line.number, &defaults).ok())
        })
    }

    /// [`InputFile::items`] for lines of any format.
    pub fn items_with<F>(&self, format: F) -> impl Iterator<Item = F::Item> + Send + 'static
    where
        F: LineFormat + Send + 'static,
    {
        self.lines().filter_map(move |line| {
            line.text
                .ok()
                .and_then(|t| format.parse(&t, line.number).ok())
        })
    }
}

/// Copies `from` into an unnamed temp file (mode 0600, in `TMPDIR`) and returns it.
fn spool(mut from: impl Read + AsRawFd, label: &str, deadline: &Deadline) -> Result<File> {
    let mut file =
        tempfile::tempfile().map_err(|e| Error::io("cannot spool the input to a temp file", e))?;
    // Reads of 64 KiB go straight to the descriptor (stdin's buffer stays empty), so polling
    // the descriptor tells truly whether a read would block.
    let mut buffer = vec![0; 64 * 1024];
    loop {
        wait_readable(from.as_raw_fd(), deadline, label)?;
        let n = match from.read(&mut buffer) {
            Ok(0) => return Ok(file),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("cannot read {label}"), e)),
        };
        file.write_all(&buffer[..n])
            .map_err(|e| Error::io("cannot spool the input to a temp file", e))?;
    }
}

/// Waits until `fd` has data (or its end) to read; a timeout error at `deadline`.
fn wait_readable(fd: RawFd, deadline: &Deadline, label: &str) -> Result<()> {
    match readable_before(fd, deadline) {
        true => Ok(()),
        false => Err(deadline.timeout_error(&format!("reading {label}"))),
    }
}

/// What makes a well-formed line unusable in this run.
fn line_problem(item: &BatchItem, tokens_only: bool) -> Option<String> {
    match &item.input {
        LineInput::Prompt(Prompt::Text(_)) if tokens_only => {
            Some("--tokens-only needs \"tokens\", not \"prompt\"".to_string())
        }
        LineInput::Messages(_) if tokens_only => {
            Some("--tokens-only needs \"tokens\", not \"messages\"".to_string())
        }
        _ => None,
    }
}

/// Whether the line is a conversation to render.
pub fn needs_chat(item: &BatchItem, defaults: &LineDefaults) -> bool {
    match &item.input {
        LineInput::Messages(_) => true,
        LineInput::Prompt(Prompt::Text(_)) => defaults.chat,
        LineInput::Prompt(Prompt::Tokens(_)) => false,
    }
}

/// The bad lines: the first few with their messages, and how many in all.
#[derive(Default)]
struct BadLines {
    shown: Vec<String>,
    count: usize,
}

impl BadLines {
    fn note(&mut self, line: usize, problem: String) {
        self.count += 1;
        if self.shown.len() < SHOWN_ERRORS {
            self.shown.push(format!("  line {line}: {problem}"));
        }
    }

    /// The refusal listing them, if there are any.
    fn refuse(&self, label: &str, undone: &str) -> Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let more = if self.count > SHOWN_ERRORS {
            format!("\n  … and {} more", self.count - SHOWN_ERRORS)
        } else {
            String::new()
        };
        let plural = if self.count == 1 { "" } else { "s" };
        Err(Error::Input {
            message: format!(
                "{label}: {} bad line{plural}; {undone}\n{}{more}",
                self.count,
                self.shown.join("\n")
            ),
            hint: Some("fix the lines above and run again".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SamplingParams;
    use std::time::Duration;

    fn defaults() -> LineDefaults {
        LineDefaults {
            num_samples: 1,
            params: SamplingParams::default(),
            chat: false,
            topk_logprobs: 0,
        }
    }

    fn input(content: &str) -> (tempfile::TempDir, InputFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, content).unwrap();
        let forever = Deadline::after(Duration::from_secs(600));
        let file = InputFile::open(&Source::File(path), &forever).unwrap();
        (dir, file)
    }

    #[test]
    fn blank_lines_are_skipped_and_line_numbers_kept() {
        let (_dir, file) = input("{\"prompt\": \"a\"}\n\n  \n{\"tokens\": [1]}\n");
        file.validate(&defaults(), false, &mut Resumed::default())
            .unwrap();
        let lines: Vec<usize> = file.items(defaults()).map(|i| i.line).collect();
        assert_eq!(lines, vec![1, 4]);
    }

    #[test]
    fn bad_lines_are_listed_with_their_numbers() {
        let (_dir, file) = input("{\"prompt\": \"a\"}\nnope\n{\"id\": 1, \"prompt\": \"b\"}\n{\"prompt\": \"c\", \"top_p\": 2}\n");
        let err = file
            .validate(&defaults(), false, &mut Resumed::default())
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(": 3 bad lines; nothing was sampled\n"),
            "{message}"
        );
        assert!(message.contains("\n  line 2: not valid JSON"), "{message}");
        assert!(
            message.contains("\n  line 3: id 1 repeats line 1"),
            "{message}"
        );
        assert!(
            message.contains("\n  line 4: top_p: must be greater than 0 and at most 1"),
            "{message}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn repeated_ids_are_confirmed_by_reading_the_first_line_back() {
        let long = "x".repeat(300);
        let content = format!(
            "{{\"id\": \"{long}\", \"prompt\": \"a\"}}\n{{\"id\": \"{long}y\", \"prompt\": \"b\"}}\n{{\"prompt\": \"c\"}}\n{{\"id\": 3, \"prompt\": \"d\"}}\n{{\"id\": \"{long}\", \"prompt\": \"e\"}}\n"
        );
        let (_dir, file) = input(&content);
        let message = file
            .validate(&defaults(), false, &mut Resumed::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains(": 2 bad lines; "), "{message}");
        assert!(
            message.contains("\n  line 4: id 3 repeats line 3"),
            "{message}"
        );
        assert!(
            message.contains(&format!("\n  line 5: id \"{long}\" repeats line 1")),
            "{message}"
        );
    }

    #[test]
    fn lines_the_journal_holds_are_marked_done() {
        let (dir, file) = input("{\"id\": \"a\", \"prompt\": \"a\"}\n\n{\"prompt\": \"b\"}\n{\"id\": \"c\", \"prompt\": \"c\"}\n");
        let journal = dir.path().join("out.jsonl");
        let rec = |id: &str, n: usize, text: &str| {
            let h = line_hash(text.as_bytes());
            format!("{{\"id\":{id},\"line\":{n},\"sequences\":[],\"input_hash\":\"{h}\"}}\n")
        };
        let failed =
            "{\"id\":\"a\",\"line\":1,\"error\":{\"category\":\"user\",\"message\":\"m\"}}\n";
        let done = rec("\"c\"", 4, "{\"id\": \"c\", \"prompt\": \"c\"}")
            + &rec("3", 3, "{\"prompt\": \"b\"}")
            + failed;
        std::fs::write(&journal, done).unwrap();
        let mut resumed = Resumed::read(Some(&journal), true).unwrap();
        let scan = file.validate(&defaults(), false, &mut resumed).unwrap();
        assert_eq!((scan.count, scan.done.len(), scan.chat_lines), (3, 2, 0));
        assert!(scan.done.contains(3) && scan.done.contains(4) && !scan.done.contains(1));
    }

    #[test]
    fn a_shard_counts_its_lines_but_every_line_is_checked() {
        use crate::cli::batch::shard::Shard;
        let shard = Some(Shard { index: 2, count: 2 });
        let (_dir, file) =
            input("{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n\n{\"prompt\": \"d\"}\n");
        let scan = file
            .validate_shard(&defaults(), false, &mut Resumed::default(), shard)
            .unwrap();
        assert_eq!(scan.count, 2, "lines 2 and 4");
        let (_dir, file) = input(
            "{\"id\": 1, \"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n{\"id\": 1, \"prompt\": \"c\"}\n",
        );
        let message = file
            .validate_shard(&defaults(), false, &mut Resumed::default(), shard)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("\n  line 3: id 1 repeats line 1"),
            "{message}"
        );
        let (_dir, file) = input("{\"prompt\": \"a\"}\n");
        let empty_shard = file.validate_shard(&defaults(), false, &mut Resumed::default(), shard);
        assert_eq!(empty_shard.unwrap().count, 0, "a shard may get no lines");
    }

    #[test]
    fn only_the_first_ten_are_shown() {
        let (_dir, file) = input(&"x\n".repeat(25));
        let message = file
            .validate(&defaults(), false, &mut Resumed::default())
            .unwrap_err()
            .to_string();
        assert_eq!(message.matches("\n  line ").count(), 10);
        assert!(message.ends_with("… and 15 more"), "{message}");
    }

    #[test]
    fn tokens_only_rejects_text_lines_and_empty_input_is_refused() {
        let (_dir, file) = input("{\"prompt\": \"a\"}\n");
        assert!(file
            .validate(&defaults(), true, &mut Resumed::default())
            .unwrap_err()
            .to_string()
            .contains("--tokens-only needs"));
        let (_dir, empty) = input("\n\n");
        assert!(empty
            .validate(&defaults(), false, &mut Resumed::default())
            .unwrap_err()
            .to_string()
            .ends_with("no prompts (the file is empty)"));
    }
}
