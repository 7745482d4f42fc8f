//! Where a chat template and the tokenizer's special tokens come from: `chat_template.jinja`,
//! else `chat_template.json` (vision repositories), else `tokenizer_config.json`'s
//! `chat_template`, in the tokenizer's directory or given files.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
pub use crate::repo_files::{CONFIG_FILE, TEMPLATE_FILE};

/// The processor's template file of vision repositories: `{"chat_template": "…"}`.
pub use crate::repo_files::TEMPLATE_JSON_FILE;
/// The files a repository's template may be in, the one that wins first.
pub const TEMPLATE_FILES: [&str; 3] = [TEMPLATE_FILE, TEMPLATE_JSON_FILE, CONFIG_FILE];
/// The special-token names transformers puts in a template's context, in its order.
pub const SPECIAL_TOKEN_NAMES: [&str; 7] = [
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
];

/// A Jinja chat template and where it came from (named in errors).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatTemplate {
    /// A path, or `path#chat_template` when it came from inside a tokenizer config.
    pub origin: String,
    /// The template text.
    pub source: String,
}

impl ChatTemplate {
    /// Reads a template file as it is (`--chat-template FILE`).
    pub fn from_file(path: &Path) -> Result<ChatTemplate> {
        let source = read_text(path)?;
        Ok(ChatTemplate {
            origin: path.display().to_string(),
            source,
        })
    }
}

/// What chat mode needs from a tokenizer repository: its special tokens and its template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerConfig {
    /// `bos_token`, `eos_token`, … as strings (AddedToken objects reduced to their content).
    pub special_tokens: Map<String, Value>,
    /// The repository's own template, if it has one.
    pub template: Option<ChatTemplate>,
}

impl TokenizerConfig {
    /// Reads `tokenizer_config.json`, `chat_template.jinja` and `chat_template.json` from
    /// `dir`; any may be absent.
    pub fn from_dir(dir: &Path) -> Result<TokenizerConfig> {
        TokenizerConfig::load(&mut |file| {
            let path = dir.join(file);
            match path.is_file() {
                true => Ok(Some((
                    path.display().to_string(),
                    read_text(&path)?.into_bytes(),
                ))),
                false => Ok(None),
            }
        })
    }

    /// Builds the config from a repository's files as `fetch` finds them (`(origin, bytes)`,
    /// `None` when absent): special tokens from `tokenizer_config.json`, and the template from
    /// the first of [`TEMPLATE_FILES`] that has one. `chat_template.json` is not fetched
    /// when `chat_template.jinja` exists.
    pub fn load(fetch: &mut RepoFetch<'_>) -> Result<TokenizerConfig> {
        let config = fetch(CONFIG_FILE)?;
        let mut template = fetch(TEMPLATE_FILE)?;
        let mut out = TokenizerConfig::from_sources(
            config.as_ref().map(|(o, b)| (o.as_str(), b.as_slice())),
            template.as_ref().map(|(o, b)| (o.as_str(), b.as_slice())),
        )?;
        if template.is_none() {
            template = fetch(TEMPLATE_JSON_FILE)?;
            if let Some((origin, bytes)) = &template {
                out.template = Some(parse_template_json(bytes, origin)?);
            }
        }
        Ok(out)
    }

    /// Builds the config from the files found for a tokenizer (either may be missing): the
    /// `.jinja` template wins over the config's `chat_template`, as in transformers.
    pub fn from_files(config: Option<&Path>, template: Option<&Path>) -> Result<TokenizerConfig> {
        let config = config.map(|p| Ok::<_, Error>((p.display().to_string(), read_text(p)?)));
        let template = template.map(|p| Ok::<_, Error>((p.display().to_string(), read_text(p)?)));
        let config = config.transpose()?;
        let template = template.transpose()?;
        TokenizerConfig::from_sources(
            config.as_ref().map(|(o, t)| (o.as_str(), t.as_bytes())),
            template.as_ref().map(|(o, t)| (o.as_str(), t.as_bytes())),
        )
    }

    /// Like [`TokenizerConfig::from_files`] from contents already read: `(origin, bytes)` pairs.
    pub fn from_sources(
        config: Option<(&str, &[u8])>,
        template: Option<(&str, &[u8])>,
    ) -> Result<TokenizerConfig> {
        let mut out = match config {
            Some((origin, bytes)) => parse_config(&utf8(bytes, origin)?, Path::new(origin))?,
            None => TokenizerConfig::default(),
        };
        if let Some((origin, bytes)) = template {
            out.template = Some(ChatTemplate {
                origin: origin.to_string(),
                source: utf8(bytes, origin)?,
            });
        }
        Ok(out)
    }

    /// The special token `name` (e.g. `eos_token`), if set.
    pub fn special_token(&self, name: &str) -> Option<&str> {
        self.special_tokens.get(name).and_then(Value::as_str)
    }
}

/// Finds one repository file by name: `(origin, bytes)`, or `None` when it is absent.
pub type RepoFetch<'a> = dyn FnMut(&str) -> Result<Option<(String, Vec<u8>)>> + 'a;

/// Parses a `chat_template.json`: an object whose `chat_template` is the template text.
pub fn parse_template_json(bytes: &[u8], origin: &str) -> Result<ChatTemplate> {
    let value: Value = serde_json::from_str(&utf8(bytes, origin)?)
        .map_err(|e| Error::input(format!("{origin} is not valid JSON: {e}")))?;
    match value.get("chat_template") {
        Some(Value::String(source)) => Ok(ChatTemplate {
            origin: format!("{origin}#chat_template"),
            source: source.clone(),
        }),
        _ => Err(Error::input(format!(
            "{origin} must hold an object with a \"chat_template\" string"
        ))),
    }
}

/// Parses the text of a `tokenizer_config.json` found at `path`.
pub fn parse_config(text: &str, path: &Path) -> Result<TokenizerConfig> {
    let shown = path.display();
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::input(format!("{shown} is not valid JSON: {e}")))?;
    let Value::Object(config) = value else {
        return Err(Error::input(format!("{shown} must hold a JSON object")));
    };
    let mut special_tokens = Map::new();
    for name in SPECIAL_TOKEN_NAMES {
        let token = match config.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(added)) => added
                .get("content")
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        };
        if let Some(token) = token {
            special_tokens.insert(name.to_string(), Value::String(token));
        }
    }
    let template = match config.get("chat_template") {
        None | Some(Value::Null) => None,
        Some(Value::String(source)) => Some(source.clone()),
        Some(Value::Array(named)) => Some(default_of_named(named, path)?),
        Some(_) => {
            return Err(Error::input(format!(
                "{shown}: chat_template must be a string or a list of named templates"
            )))
        }
    };
    Ok(TokenizerConfig {
        special_tokens,
        template: template.map(|source| ChatTemplate {
            origin: format!("{shown}#chat_template"),
            source,
        }),
    })
}

/// transformers uses the entry named `default` of a list of named templates.
fn default_of_named(named: &[Value], path: &Path) -> Result<String> {
    named
        .iter()
        .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
        .and_then(|t| t.get("template").and_then(Value::as_str))
        .map(str::to_string)
        .ok_or_else(|| {
            Error::input(format!(
                "{}: chat_template lists named templates but none is named \"default\"",
                path.display()
            ))
        })
}

fn read_text(path: &Path) -> Result<String> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    utf8(&bytes, &path.display().to_string())
}

fn utf8(bytes: &[u8], origin: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::input(format!("{origin} is not UTF-8 text")))
}

/// The directory holding a tokenizer file, where its config and template are looked for.
pub fn tokenizer_dir(tokenizer_json: &Path) -> PathBuf {
    tokenizer_json
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
