//! A batch line's prompt as token ids: raw prompts encoded as in single mode, conversations
//! rendered with the chat setup every worker shares (read once for the whole batch).

use serde_json::Value;

use super::input::{BatchItem, LineInput};
use crate::cli::chat::{self, ChatFiles, ChatSetup};
use crate::cli::prompt::Prompt;
use crate::cli::run::{encode_prompt, known_tokenizer, TokenizerLoader};
use crate::cli::settings::RunConfig;
use crate::client::{SamplingClient, StopCondition};
use crate::error::{Error, Result};
use crate::tokenizer::{self, Tokenizer, TokenizerSpec};
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
}

/// A line ready to sample.
pub struct Encoded {
    /// The prompt's token ids.
    pub tokens: Vec<u32>,
    /// The stops to send.
    pub stop: Option<StopCondition>,
    /// The `"chat"` entry of the output line, for conversations.
    pub chat: Option<Value>,
}

impl Encoder<'_> {
    /// Encodes `item`; a conversation gets the chat defaults' stops unless stops were set.
    pub fn encode(&self, item: &BatchItem) -> Result<Encoded> {
        let conversation = match &item.input {
            LineInput::Prompt(Prompt::Text(text)) if self.chat_prompts => {
                chat::conversation(self.system, Vec::new(), Some(text))
            }
            LineInput::Prompt(prompt) => {
                return Ok(Encoded {
                    tokens: encode_prompt(prompt.clone(), self.tokenizer)?,
                    stop: item.params.stop.clone(),
                    chat: None,
                })
            }
            LineInput::Messages(messages) => {
                chat::conversation(self.system, messages.clone(), None)
            }
        };
        let (Some(setup), Some(tokenizer)) = (self.chat, self.tokenizer) else {
            return Err(Error::Unexpected("a chat line without a chat setup".into()));
        };
        let prepared = setup.prepare(&conversation, tokenizer)?;
        let stop = if item.stop_set {
            item.params.stop.clone()
        } else {
            prepared.stop
        };
        let chat = prepared
            .renderer
            .map(|r| chat::chat_value(r, stop.as_ref()));
        Ok(Encoded {
            tokens: prepared.tokens,
            stop,
            chat,
        })
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
    let model = match &config.base_model {
        Some(model) => model.clone(),
        None => sampler.base_model()?,
    };
    let spec = known_tokenizer(config)
        .unwrap_or_else(|| TokenizerSpec::Repo(tokenizer::tokenizer_id_for_model(&model)));
    let files = ChatFiles {
        loader,
        spec: &spec,
        deadline,
    };
    let options = config.chat.clone().unwrap_or_default();
    ChatSetup::new(&options, tokenizer, &model, &files)
}
