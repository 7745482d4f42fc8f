//! Chat mode: turning messages into the prompt a model was trained on — a tinker-cookbook
//! profile, or the model's own Hugging Face chat template rendered as transformers renders it.
//!
//! The rendered prompt is kept as pieces: a profile's pieces are tokenized one by one, as the
//! cookbook tokenizes them, while a template's output is one piece. Every piece is encoded
//! without adding special tokens (the prompt already holds BOS where the model wants it).

mod engine;
mod images;
pub mod limits;
mod messages;
mod models;
mod overflow;
mod profiles;
pub mod pyfmt;
mod template;

use std::sync::Once;

use serde_json::{Map, Value};

pub use engine::{plain_generation_blocks, render_template, RenderOptions, FUEL};
pub use images::{load_images, split_at_images, Segment, IMAGE_PAD};
pub use messages::{has_think_block, messages_from_value, parse_messages, Message, ROLES};
pub use models::{
    choose_renderer, default_stops, renderer_for_model, think_arg, think_arg_in, Renderer, Stop,
    RENDERER_NAMES,
};
pub use profiles::{render_profile, Profile};
pub use template::{
    parse_config, parse_template_json, tokenizer_dir, ChatTemplate, RepoFetch, TokenizerConfig,
    CONFIG_FILE, SPECIAL_TOKEN_NAMES, TEMPLATE_FILE, TEMPLATE_FILES, TEMPLATE_JSON_FILE,
};

use crate::error::{Error, Result};

/// A rendered chat prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The pieces, each tokenized on its own; their concatenation is the prompt text.
    pub pieces: Vec<String>,
}

impl Prompt {
    /// The whole prompt text.
    pub fn text(&self) -> String {
        self.pieces.concat()
    }

    /// Token ids: each piece encoded with `encode` (which must not add special tokens).
    pub fn encode(&self, encode: &dyn Fn(&str) -> Result<Vec<u32>>) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        for piece in &self.pieces {
            ids.extend(encode(piece)?);
        }
        Ok(ids)
    }
}

/// Renders `messages` for sampling with `renderer`. `config` supplies the special tokens and,
/// for [`Renderer::Hf`], the template (`template` overrides it, as `--chat-template` does).
pub fn render(
    renderer: Renderer,
    config: &TokenizerConfig,
    template: Option<&ChatTemplate>,
    messages: &[Message],
    template_args: &Map<String, Value>,
    opts: &RenderOptions,
) -> Result<Prompt> {
    if let Some(profile) = renderer.profile() {
        let pieces = render_profile(profile, messages, config.special_token("bos_token"))?;
        return Ok(Prompt { pieces });
    }
    let template = template.or(config.template.as_ref()).ok_or_else(|| Error::Input {
        message: "the tokenizer has no chat template (no chat_template.jinja, and no chat_template in tokenizer_config.json)".into(),
        hint: Some("pass --chat-template FILE, or sample a raw prompt without --chat".into()),
    })?;
    if messages.iter().any(has_think_block) {
        warn_think_once();
    }
    let text = render_template(
        template,
        &config.special_tokens,
        messages,
        template_args,
        opts,
    )?;
    Ok(Prompt { pieces: vec![text] })
}

fn warn_think_once() {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        log::warn!(
            "assistant messages contain <think>…</think>: rendered as the model's template does \
             (it may drop them), while the tinker-cookbook would keep them"
        );
    });
}
