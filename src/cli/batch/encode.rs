//! A batch line's prompt as token ids: raw prompts encoded as in single mode, conversations
//! rendered with the chat setup every worker shares (read once for the whole batch).

use std::path::{Path, PathBuf};

use super::input::{BatchItem, LineInput};
use crate::cli::conversation::{self, ChatFiles, ChatSetup};
use crate::cli::prepare::Encoded;
use crate::cli::prompt::{Prompt, Source};
use crate::cli::prompt_images;
use crate::cli::settings::{BatchOptions, Mode, RunConfig};
use crate::cli::tokenize::{encode_prompt, model_and_tokenizer, TokenizerLoader};
use crate::client::{ModelInput, SamplingClient};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use crate::Deadline;

/// What every worker needs to encode a line.
pub struct Encoder<'a> {
    /// The tokenizer (none with `--tokens-only`).
    pub tokenizer: Option<&'a Tokenizer>,
    /// The chat setup, when some line is a conversation.
    pub chat: Option<&'a ChatSetup>,
    /// `--system`, put first in every conversation.
    pub system: Option<&'a str>,
    /// `--chat`/`--system`: `"prompt"` lines are user messages.
    pub chat_prompts: bool,
    /// The folder image paths in lines are relative to: the input file's.
    pub base_dir: PathBuf,
}

impl<'a> Encoder<'a> {
    /// The encoder for `config`'s lines: `--system` and `--chat` from the flags.
    pub fn new(
        config: &'a RunConfig,
        tokenizer: Option<&'a Tokenizer>,
        chat: Option<&'a ChatSetup>,
    ) -> Encoder<'a> {
        Encoder {
            tokenizer,
            chat,
            system: config.chat.as_ref().and_then(|c| c.system.as_deref()),
            chat_prompts: config.chat.is_some(),
            base_dir: match &config.mode {
                Mode::Batch(BatchOptions {
                    input: Source::File(path),
                    ..
                }) => path.parent().unwrap_or(Path::new("")).to_path_buf(),
                _ => PathBuf::new(),
            },
        }
    }

    /// Encodes `item`; a conversation gets the chat defaults' stops unless stops were set.
    pub fn encode(&self, item: &BatchItem) -> Result<Encoded> {
        let conversation = match &item.input {
            LineInput::Prompt(Prompt::Text(text)) if self.chat_prompts => {
                conversation::conversation(self.system, Vec::new(), Some(text))
            }
            LineInput::Prompt(prompt) => {
                return Ok(Encoded {
                    input: ModelInput::from_tokens(encode_prompt(prompt.clone(), self.tokenizer)?),
                    stop: item.params.stop.clone(),
                    chat: None,
                })
            }
            LineInput::Messages(messages) => {
                conversation::conversation(self.system, messages.clone(), None)
            }
        };
        let (Some(setup), Some(tokenizer)) = (self.chat, self.tokenizer) else {
            return Err(Error::Unexpected("a chat line without a chat setup".into()));
        };
        // A line's images are read as it is encoded: only the lines in flight hold theirs.
        let images = prompt_images::load(&conversation, &self.base_dir, "messages", &[])?;
        let prepared = setup.prepare(&conversation, &images, tokenizer)?;
        let stop = if item.stop_set {
            item.params.stop.clone()
        } else {
            prepared.stop.clone()
        };
        Ok(Encoded::new(prepared, stop))
    }
}

/// The chat setup for the batch's model: its name from `--base-model`, else from the server.
pub fn chat_setup(
    config: &RunConfig,
    loader: &TokenizerLoader,
    sampler: &SamplingClient,
    tokenizer: Option<&Tokenizer>,
    deadline: &Deadline,
) -> Result<ChatSetup> {
    let tokenizer =
        tokenizer.ok_or_else(|| Error::Unexpected("chat lines without a tokenizer".into()))?;
    let (model, spec) = model_and_tokenizer(config, sampler)?;
    let files = ChatFiles {
        loader,
        spec: &spec,
        deadline,
    };
    let options = config.chat.clone().unwrap_or_default();
    let mut setup = ChatSetup::new(&options, tokenizer, &model, &files)?;
    // Any line may hold images: the model's image settings are read if it has them.
    setup.load_preprocessor(&model, &files, false)?;
    Ok(setup)
}
