//! Reading the prompt: text as given, or token ids from a file or stdin; and where the
//! prompt, `--messages` and `--input` come from.

use std::io::{self, Read};
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::bounded::{self, PROMPT_LIMIT};
use crate::chat::Message;
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use crate::Deadline;

/// Where the prompt comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptSource {
    /// `--prompt TEXT`
    Text(String),
    /// `--prompt-file PATH`
    File(PathBuf),
    /// `--prompt-file -`
    Stdin,
}

/// A file flag's value: a path, or `-` for stdin (`--input`, `--messages`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file path.
    File(PathBuf),
    /// `-`: standard input.
    Stdin,
}

/// Reads all of `source` for `flag` within `deadline` and [`PROMPT_LIMIT`]; the bytes and
/// their origin as error messages name it (`--messages notes.json`, `--prompt-file - (stdin)`).
pub fn read_source(flag: &str, source: &Source, deadline: &Deadline) -> Result<(Vec<u8>, String)> {
    let (origin, step) = match source {
        Source::File(path) => (
            format!("{flag} {}", path.display()),
            format!("reading {flag} {}", path.display()),
        ),
        Source::Stdin => (
            format!("{flag} - (stdin)"),
            format!("reading {} from stdin", what(flag)),
        ),
    };
    let bytes = match source {
        // A FIFO named as a file can stay silent as long as stdin can: both are polled.
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| Error::unreadable(&origin, &e))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(Error::input(format!("{origin}: is a directory")));
            }
            read_polled(file, deadline)
        }
        Source::Stdin => read_polled(std::io::stdin().lock(), deadline),
    };
    match bytes {
        Ok(bytes) => Ok((bytes, origin)),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(deadline.timeout_error(&step)),
        Err(e) => match bounded::exceeded(&e) {
            Some(_) => Err(Error::Input {
                message: format!("{origin}: {e}"),
                hint: Some(format!(
                    "a prompt holds at most {} of text; shorten it",
                    bounded::size(PROMPT_LIMIT)
                )),
            }),
            None => Err(Error::unreadable(&origin, &e)),
        },
    }
}

/// What a flag's stdin holds, for the step a timeout names.
fn what(flag: &str) -> &'static str {
    match flag {
        "--messages" => "the messages",
        _ => "the prompt",
    }
}

/// A reader that polls its descriptor before each read, so a silent pipe ends at the deadline.
struct Polled<'a, R> {
    inner: R,
    deadline: &'a Deadline,
}

impl<R: Read + AsRawFd> Read for Polled<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !readable_before(self.inner.as_raw_fd(), self.deadline) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        self.inner.read(buf)
    }
}

fn read_polled(inner: impl Read + AsRawFd, deadline: &Deadline) -> io::Result<Vec<u8>> {
    bounded::read_all(&mut Polled { inner, deadline }, PROMPT_LIMIT, || {})
}

/// Waits until `fd` has data (or its end, or an error) to read: false if `deadline` passes first.
pub fn readable_before(fd: RawFd, deadline: &Deadline) -> bool {
    loop {
        let wait = deadline.cap(Duration::from_secs(1)).as_millis() as libc::c_int;
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut poll, 1, wait) } != 0 {
            // Ready, at its end, or an error: the read that follows reports which.
            return true;
        }
        if deadline.expired() {
            return false;
        }
    }
}

/// A prompt before tokenization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Text, to be encoded with the model's tokenizer.
    Text(String),
    /// Token ids, sent as they are.
    Tokens(Vec<u32>),
}

/// What is sent, before rendering: a prompt as given, or a conversation to render in the
/// model's chat format. The one name for it (single runs; batch lines and scoring contexts
/// are to use it too).
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Text or token ids, as given.
    Prompt(Prompt),
    /// Messages, in order, and their images (loaded and checked), in message and part order.
    Messages(Vec<Message>, Vec<std::sync::Arc<crate::image::Image>>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensObject {
    tokens: Vec<u32>,
}

/// Reads the prompt from its source within `deadline` and rejects an empty or oversized one.
pub fn load(source: &PromptSource, deadline: &Deadline) -> Result<Prompt> {
    let file = match source {
        PromptSource::Text(text) => {
            return check_size(text, "--prompt").map(|()| Prompt::Text(text.clone()))
        }
        PromptSource::File(path) => Source::File(path.clone()),
        PromptSource::Stdin => Source::Stdin,
    };
    let (bytes, origin) = read_source("--prompt-file", &file, deadline)?;
    interpret(bytes, &origin)
}

/// Refuses a prompt text longer than [`PROMPT_LIMIT`] (before any encoding starts).
pub fn check_size(text: &str, origin: &str) -> Result<()> {
    if text.len() <= PROMPT_LIMIT {
        return Ok(());
    }
    Err(Error::input(format!(
        "{origin}: the prompt is {} bytes, more than the {} limit",
        text.len(),
        bounded::size(PROMPT_LIMIT)
    )))
}

/// Decides between token ids and text, as docs/run.md describes for `--prompt-file`.
fn interpret(bytes: Vec<u8>, origin: &str) -> Result<Prompt> {
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::input(format!("{origin}: not valid UTF-8 text")))?;
    if let Some(tokens) = parse_token_ids(&text) {
        if tokens.is_empty() {
            return Err(Error::input(format!("{origin}: the token list is empty")));
        }
        return Ok(Prompt::Tokens(tokens));
    }
    let text = strip_one_newline(&text);
    if text.is_empty() {
        return Err(Error::input(format!("{origin}: the prompt is empty")));
    }
    Ok(Prompt::Text(text.to_string()))
}

/// Token ids when the whole text is a JSON array of ids or `{"tokens": [...]}`: the one rule
/// for token-id prompts (`--prompt-file`, `--context-tokens`, `--continuation-tokens`).
pub fn parse_token_ids(text: &str) -> Option<Vec<u32>> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<u32>>(trimmed).ok()
    } else if trimmed.starts_with('{') {
        serde_json::from_str::<TokensObject>(trimmed)
            .ok()
            .map(|o| o.tokens)
    } else {
        None
    }
}

/// Token ids from a file flag that holds nothing else (`--context-tokens PATH`): read within
/// `deadline` and the prompt limit, parsed by [`parse_token_ids`], refused when empty.
pub fn read_token_ids(flag: &str, path: &Path, deadline: &Deadline) -> Result<Vec<u32>> {
    let (bytes, origin) = read_source(flag, &Source::File(path.to_path_buf()), deadline)?;
    let ids = std::str::from_utf8(&bytes)
        .ok()
        .and_then(parse_token_ids)
        .ok_or_else(|| {
            Error::input(format!(
                "{origin}: not a JSON array of token ids (whole numbers ≥ 0) or {{\"tokens\": [...]}}"
            ))
        })?;
    if ids.is_empty() {
        return Err(Error::input(format!("{origin}: the token list is empty")));
    }
    Ok(ids)
}

/// Ids given directly must be below the tokenizer's vocabulary size (a real server answers
/// others with a 500); `what` names them in the error (`prompt`, `--context-tokens f: `).
pub fn check_vocab(ids: &[u32], tokenizer: &Tokenizer, what: &str) -> Result<()> {
    let vocab = tokenizer.vocab_size();
    match ids.iter().position(|&id| id as usize >= vocab) {
        Some(i) => Err(Error::input(format!(
            "{what}token {} at position {i} is outside the vocabulary of {} (size {vocab})",
            ids[i],
            tokenizer.id()
        ))),
        None => Ok(()),
    }
}

/// Drops one trailing `\n` or `\r\n`, as `$(cat file)` would (it drops all; one is enough for editors).
fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &str) -> Result<Prompt> {
        interpret(content.as_bytes().to_vec(), "--prompt-file p")
    }

    #[test]
    fn token_arrays_and_objects() {
        assert_eq!(read("[1, 2, 3]\n").unwrap(), Prompt::Tokens(vec![1, 2, 3]));
        assert_eq!(
            read("{\"tokens\": [9707]}").unwrap(),
            Prompt::Tokens(vec![9707])
        );
        assert!(read("[]")
            .unwrap_err()
            .to_string()
            .contains("token list is empty"));
    }

    #[test]
    fn anything_else_is_text() {
        assert_eq!(
            read("[INST] hi [/INST]\n").unwrap(),
            Prompt::Text("[INST] hi [/INST]".into())
        );
        assert_eq!(read("[1, -2]").unwrap(), Prompt::Text("[1, -2]".into()));
        assert_eq!(
            read("{\"tokens\": [1], \"x\": 2}").unwrap(),
            Prompt::Text("{\"tokens\": [1], \"x\": 2}".into())
        );
        assert_eq!(read("two\n\n").unwrap(), Prompt::Text("two\n".into()));
        assert_eq!(read("crlf\r\n").unwrap(), Prompt::Text("crlf".into()));
    }

    #[test]
    fn empty_and_binary_are_errors() {
        assert_eq!(
            read("\n").unwrap_err().to_string(),
            "--prompt-file p: the prompt is empty"
        );
        let err = interpret(vec![0xff, 0xfe], "--prompt-file p").unwrap_err();
        assert_eq!(err.to_string(), "--prompt-file p: not valid UTF-8 text");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn missing_file_names_the_path() {
        let forever = Deadline::after(Duration::from_secs(60));
        let err = load(
            &PromptSource::File("/nonexistent/prompt.txt".into()),
            &forever,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--prompt-file /nonexistent/prompt.txt: no such file"
        );
    }

    #[test]
    fn token_id_files_hold_ids_only() {
        let forever = Deadline::after(Duration::from_secs(60));
        let dir = tempfile::tempdir().unwrap();
        let read = |content: &str| {
            let path = dir.path().join("ids.json");
            std::fs::write(&path, content).unwrap();
            read_token_ids("--context-tokens", &path, &forever).map_err(|e| e.to_string())
        };
        assert_eq!(read(" [1, 2]\n"), Ok(vec![1, 2]));
        assert_eq!(read("{\"tokens\": [7]}"), Ok(vec![7]));
        let shown = dir.path().join("ids.json").display().to_string();
        assert_eq!(
            read("[]"),
            Err(format!("--context-tokens {shown}: the token list is empty"))
        );
        assert!(read("hello")
            .unwrap_err()
            .ends_with("not a JSON array of token ids (whole numbers ≥ 0) or {\"tokens\": [...]}"));
    }
}
