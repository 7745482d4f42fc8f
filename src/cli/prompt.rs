//! Reading the prompt: text as given, or token ids from a file or stdin; and where the
//! prompt, `--messages` and `--input` come from.

use std::io::Read;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};

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

/// Reads all of `source` for `flag`; the bytes and their origin as error messages name it
/// (`--messages notes.json`, `--prompt-file - (stdin)`).
pub fn read_source(flag: &str, source: &Source) -> Result<(Vec<u8>, String)> {
    match source {
        Source::File(path) => {
            let origin = format!("{flag} {}", path.display());
            let bytes = std::fs::read(path).map_err(|e| Error::unreadable(&origin, &e))?;
            Ok((bytes, origin))
        }
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::input(format!("{flag} -: cannot read stdin: {e}")))?;
            Ok((bytes, format!("{flag} - (stdin)")))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensObject {
    tokens: Vec<u32>,
}

/// Reads the prompt from its source and rejects an empty one.
pub fn load(source: &PromptSource) -> Result<Prompt> {
    let file = match source {
        PromptSource::Text(text) => return Ok(Prompt::Text(text.clone())),
        PromptSource::File(path) => Source::File(path.clone()),
        PromptSource::Stdin => Source::Stdin,
    };
    let (bytes, origin) = read_source("--prompt-file", &file)?;
    interpret(bytes, &origin)
}

/// Decides between token ids and text, as README.md describes for `--prompt-file`.
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

/// Token ids when the whole text is a JSON array of ids or `{"tokens": [...]}`.
fn parse_token_ids(text: &str) -> Option<Vec<u32>> {
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
        let err = load(&PromptSource::File("/nonexistent/prompt.txt".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--prompt-file /nonexistent/prompt.txt: no such file"
        );
    }
}
