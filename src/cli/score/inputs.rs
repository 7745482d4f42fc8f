//! What a scoring sends, as token ids: the context encoded as `run` encodes a prompt (chat
//! mode included), each continuation encoded on its own without special tokens.

use serde_json::{json, Value};

use super::args::{usage, Continuations, ScoreConfig, Target};
use crate::cli::conversation;
use crate::cli::prepare::Ready;
use crate::cli::prompt::{self, Input, Prompt};
use crate::cli::settings::Mode;
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use crate::Deadline;

/// What follows the context, as read from flags and files.
pub enum Rest {
    /// The continuations as given.
    Continuations(Continuations),
    /// `--prompt-file`: the context is a whole text, scored after its first token.
    Whole,
}

/// The ids to send, and what output shows of them.
pub struct ScoringIds {
    /// The context's ids (for a whole text, its first token).
    pub context: Vec<u32>,
    /// Each continuation's text as shown, and its ids.
    pub continuations: Vec<(String, Vec<u32>)>,
    /// Chat mode's `"chat"` entry.
    pub chat: Option<Value>,
}

/// Reads the context (as `run` reads a prompt) and what follows it, refusing empty ones.
pub fn load(config: &ScoreConfig, deadline: &Deadline) -> Result<(Input, Rest)> {
    let source = match &config.run.mode {
        Mode::Single(source) => source.as_ref(),
        Mode::Batch(_) | Mode::PrintPrompt(_) => {
            return Err(Error::Unexpected("not one scoring".into()))
        }
    };
    match &config.target {
        Target::Whole => {
            let source = source.ok_or_else(|| Error::Unexpected("no --prompt-file".into()))?;
            Ok((Input::Prompt(prompt::load(source, deadline)?), Rest::Whole))
        }
        Target::Pair {
            context_tokens: Some(path),
            continuations,
            ..
        } => {
            let ids = prompt::read_token_ids("--context-tokens", path, deadline)?;
            let rest = Rest::Continuations(continuations.clone());
            Ok((Input::Prompt(Prompt::Tokens(ids)), rest))
        }
        Target::Pair { continuations, .. } => {
            let rest = Rest::Continuations(continuations.clone());
            Ok((
                conversation::load_input(&config.run, source, deadline)?,
                rest,
            ))
        }
        Target::Batch => Err(Error::Unexpected("a batch read as one scoring".into())),
    }
}

/// Adds the continuations to the context `run`'s preparation encoded (`ready`).
pub fn finish(
    config: &ScoreConfig,
    rest: &Rest,
    ready: Ready,
    deadline: &Deadline,
) -> Result<(ScoringIds, Tokenizer)> {
    let tokenizer = ready
        .tokenizer
        .ok_or_else(|| Error::Unexpected("scoring without a tokenizer".into()))?;
    if !ready.prompt.input.images().is_empty() {
        return Err(usage(
            "tinkex score takes no images: give the messages without image parts",
        ));
    }
    let context = ready.prompt.input.tokens().to_vec();
    let continuations = match rest {
        Rest::Whole => return whole(context, tokenizer),
        Rest::Continuations(continuations) => continuations,
    };
    if context.is_empty() {
        return Err(usage("the context encodes to no tokens"));
    }
    let continuations = match continuations {
        Continuations::Texts(texts) => {
            let flag = if matches!(&config.target, Target::Pair { choices: true, .. }) {
                "--choice"
            } else {
                "--continuation"
            };
            encode_texts(texts.clone(), &tokenizer, flag)?
        }
        Continuations::TokenFiles(paths) => paths
            .iter()
            .map(|path| {
                let ids = prompt::read_token_ids("--continuation-tokens", path, deadline)?;
                prompt::check_vocab(
                    &ids,
                    &tokenizer,
                    &format!("--continuation-tokens {}: ", path.display()),
                )?;
                Ok((tokenizer.decode(&ids)?, ids))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    // Stops play no part in scoring: only the renderer is worth showing.
    let chat = ready
        .prompt
        .chat
        .map(|c| json!({"renderer": c["renderer"]}));
    let encoded = ScoringIds {
        context,
        continuations,
        chat,
    };
    Ok((encoded, tokenizer))
}

/// Continuations given as text, each encoded alone without special tokens.
pub fn encode_texts(
    texts: Vec<String>,
    tokenizer: &Tokenizer,
    flag: &str,
) -> Result<Vec<(String, Vec<u32>)>> {
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let ids = tokenizer.encode_plain(&text)?;
            if ids.is_empty() {
                let which = Value::String(text.clone());
                return Err(usage(format!(
                    "{flag} {} ({which}) encodes to no tokens",
                    i + 1
                )));
            }
            Ok((text, ids))
        })
        .collect()
}

/// A whole text: its first token is the context, the rest are scored.
fn whole(tokens: Vec<u32>, tokenizer: Tokenizer) -> Result<(ScoringIds, Tokenizer)> {
    if tokens.len() < 2 {
        return Err(usage(format!(
            "--prompt-file: the text has {} token; scoring needs at least 2 (the first has no logprob)",
            tokens.len()
        )));
    }
    let rest = tokens[1..].to_vec();
    let encoded = ScoringIds {
        context: tokens[..1].to_vec(),
        continuations: vec![(tokenizer.decode(&rest)?, rest)],
        chat: None,
    };
    Ok((encoded, tokenizer))
}
