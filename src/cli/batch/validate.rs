//! The first pass over a batch input: every line parsed and checked before any request (ids
//! unique, the resumed journal's lines marked done), and the second pass's items.

use std::io::{self, BufReader};

use serde_json::Value;

use super::ids::{line_at, IdIndex, LineSet};
use super::input::{id_key, line_id_key, parse_line, BatchItem, LineDefaults, LineInput};
use super::journal::Resumed;
use super::record::{line_hash, Kind};
use super::shard::Shard;
use super::source::{At, InputFile, Line};
use crate::cli::prompt::Prompt;
use crate::error::{Error, Result};

/// How many bad lines the refusal lists.
const SHOWN_ERRORS: usize = 10;

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
    /// The line's 1-based number in the input.
    fn line(&self, item: &Self::Item) -> usize;
    /// Whether the line is a conversation to render (the chat setup is read once for all).
    fn needs_chat(&self, item: &Self::Item) -> bool;
    /// The token ids the line gives directly, so they can be checked against a tokenizer known
    /// before any request; formats without any keep the default.
    fn token_ids<'i>(&self, _item: &'i Self::Item) -> Option<&'i [u32]> {
        None
    }
    /// What a success of this command is (a journal of the other is refused).
    const RESULTS: Kind = Kind::Run;
}

/// `run --input` lines: the flags' defaults, and `--tokens-only`'s restriction.
#[derive(Clone)]
pub struct RunLines {
    /// The single-run flags every line starts from.
    pub defaults: LineDefaults,
    /// `--tokens-only`.
    pub tokens_only: bool,
}

impl LineFormat for RunLines {
    type Item = BatchItem;

    fn parse(&self, text: &str, line: usize) -> std::result::Result<BatchItem, String> {
        let item = parse_line(text, line, &self.defaults)?;
        match line_problem(&item, self.tokens_only) {
            Some(problem) => Err(problem),
            None => Ok(item),
        }
    }

    fn id<'i>(&self, item: &'i BatchItem) -> &'i Value {
        &item.id
    }

    fn line(&self, item: &BatchItem) -> usize {
        item.line
    }

    fn needs_chat(&self, item: &BatchItem) -> bool {
        needs_chat(item, &self.defaults)
    }

    fn token_ids<'i>(&self, item: &'i BatchItem) -> Option<&'i [u32]> {
        match &item.input {
            LineInput::Prompt(Prompt::Tokens(ids)) => Some(ids),
            _ => None,
        }
    }
}

impl InputFile {
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
    #[cfg(test)]
    pub fn validate_shard(
        &self,
        defaults: &LineDefaults,
        tokens_only: bool,
        resumed: &mut Resumed,
        shard: Option<Shard>,
    ) -> Result<Scan> {
        let format = RunLines {
            defaults: defaults.clone(),
            tokens_only,
        };
        self.validate_with(&format, resumed, shard)
    }

    /// The first pass for lines of any format: the whole input is checked (so every shard
    /// agrees), but only `shard`'s lines are counted and looked up in the journal.
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
        bad.refuse(self.label(), F::UNDONE)?;
        resumed.check_against(self.identity(), F::RESULTS)?;
        resumed.stamp = Some(self.hasher());
        if prompts == 0 {
            return Err(Error::input(format!(
                "{}: no {} (the file is empty)",
                self.label(),
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
        let parsed = line
            .text
            .and_then(|t| Ok((format.parse(&t, line.number)?, t)));
        let (item, text) = match parsed {
            Ok(parsed) => parsed,
            Err(message) => return Ok(Err(message)),
        };
        let id = format.id(&item);
        let key = id_key(id);
        let earlier = ids.find(&key, |(at, number)| {
            let text = line_at(reader, at).map_err(|e| self.read_error(e))?;
            Ok::<_, Error>(line_id_key(&text, number).as_deref() == Some(key.as_str()))
        })?;
        if let Some((at, first)) = earlier {
            let first_text = line_at(reader, at).map_err(|e| self.read_error(e))?;
            let implicit = (is_implicit(&first_text, &key), is_implicit(&text, &key));
            return Ok(Err(repeat_message(id, first, implicit)));
        }
        ids.insert_new(&key, (line.offset, line.number));
        Ok(Ok((item, key)))
    }

    fn read_error(&self, error: io::Error) -> Error {
        Error::unreadable(self.label(), &error)
    }

    /// The second pass: items in input order (already validated, so bad lines cannot occur).
    #[cfg(test)]
    pub fn items(
        &self,
        defaults: LineDefaults,
    ) -> impl Iterator<Item = BatchItem> + Send + 'static {
        let tokens_only = false;
        self.items_with(RunLines {
            defaults,
            tokens_only,
        })
    }

    /// The second pass for lines of any format, in input order.
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

/// Whether the line `text` gives no `"id"` and so is known by its line number, `key`.
fn is_implicit(text: &str, key: &str) -> bool {
    // Read with line number 0 (no real line has it), the key changes only when it is implicit.
    line_id_key(text, 0).is_some_and(|zero| zero != key)
}

/// The refusal of a repeated id; a line without an `"id"` is known by its line number, which
/// a user can also write, so the message says which of the two ids was implicit.
fn repeat_message(
    id: &Value,
    first: usize,
    (first_implicit, this_implicit): (bool, bool),
) -> String {
    let why = match (first_implicit, this_implicit) {
        (true, _) => format!(" (line {first} has no \"id\": its id is its line number)"),
        (_, true) => " (this line has no \"id\": its id is its line number)".to_string(),
        _ => String::new(),
    };
    format!("id {id} repeats line {first}{why}")
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
/// The bad lines found so far; the batch is refused listing the first few.
#[derive(Default)]
pub(super) struct BadLines {
    shown: Vec<String>,
    count: usize,
}

impl BadLines {
    /// Records `line`'s problem.
    pub(super) fn note(&mut self, line: usize, problem: String) {
        self.count += 1;
        if self.shown.len() < SHOWN_ERRORS {
            self.shown.push(format!("  line {line}: {problem}"));
        }
    }

    /// The refusal listing them, if there are any.
    pub(super) fn refuse(&self, label: &str, undone: &str) -> Result<()> {
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
    use crate::cli::prompt::Source;
    use crate::client::SamplingParams;
    use crate::Deadline;
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
    fn a_repeat_of_an_implicit_id_says_it_was_implicit() {
        let (_dir, file) = input("{\"prompt\": \"a\"}\n{\"id\": \"b\", \"prompt\": \"b\"}\n{\"id\": 3, \"prompt\": \"c\"}\n{\"id\": 1, \"prompt\": \"d\"}\n{\"id\": 5, \"prompt\": \"e\"}\n{\"id\": 5, \"prompt\": \"f\"}\n");
        let message = file
            .validate(&defaults(), false, &mut Resumed::default())
            .unwrap_err()
            .to_string();
        let implicit = "\"id\": its id is its line number)";
        assert!(
            message.contains(&format!(
                "\n  line 4: id 1 repeats line 1 (line 1 has no {implicit}\n"
            )),
            "{message}"
        );
        assert!(
            message.ends_with("\n  line 6: id 5 repeats line 5"),
            "{message}"
        );
        let (_dir, file) = input("{\"id\": 2, \"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n");
        let message = file
            .validate(&defaults(), false, &mut Resumed::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!(
                "\n  line 2: id 2 repeats line 1 (this line has no {implicit}"
            )),
            "{message}"
        );
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
