//! Chat mode on the command line (the conversation; `src/chat/` renders it): the conversation assembled from `--system`, `--messages`
//! and the prompt, rendered and encoded (raw prompts pass through); and `--print-prompt`.
//! The chat flags themselves are validated with the other settings (`settings/chat.rs`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::output;
use super::prompt::{self, read_source, Input, Prompt, PromptSource, Source};
use super::prompt_images;
use super::settings::{ChatOptions, RunConfig};
use super::tokenize::{encode_prompt, known_tokenizer, TokenizerLoader};
use crate::chat::{self, Message, RenderOptions, Renderer, Stop, TokenizerConfig};
use crate::client::{ModelInput, StopCondition};
use crate::error::{Error, Result};
use crate::image::{self, Image, Preprocessor};
use crate::tokenizer::{Tokenizer, TokenizerSpec};
use crate::Deadline;

/// Reads the prompt and, in chat mode, the messages around it.
pub fn load_input(
    config: &RunConfig,
    source: Option<&PromptSource>,
    deadline: &Deadline,
) -> Result<Input> {
    let Some(chat) = &config.chat else {
        let source = source.ok_or_else(|| Error::Unexpected("no prompt source".into()))?;
        return prompt::load(source, deadline).map(Input::Prompt);
    };
    let (given, origin, base_dir) = match &chat.messages {
        Some(source) => read_messages(source, deadline)?,
        None => (
            Vec::new(),
            "--image".to_string(),
            Path::new("").to_path_buf(),
        ),
    };
    let prompt = match source.map(|s| prompt::load(s, deadline)).transpose()? {
        Some(Prompt::Text(text)) => Some(text),
        Some(Prompt::Tokens(_)) => {
            return Err(Error::input(
                "chat mode needs a text prompt, but the prompt holds token ids",
            ))
        }
        None => None,
    };
    // Every image is read and checked now, before any request.
    let images = prompt_images::load(&given, &base_dir, &origin, &chat.images)?;
    let messages = match chat.images.is_empty() {
        true => conversation(chat.system.as_deref(), given, prompt.as_deref()),
        false => {
            let last = prompt_images::user_message(&chat.images, prompt.as_deref());
            let mut messages = conversation(chat.system.as_deref(), given, None);
            messages.push(last);
            messages
        }
    };
    if messages.is_empty() {
        return Err(Error::usage("chat mode needs a prompt or --messages"));
    }
    Ok(Input::Messages(messages, images))
}

/// One conversation: `--system` first, then the given messages, then the prompt as the last
/// user message.
pub fn conversation(
    system: Option<&str>,
    messages: Vec<Message>,
    prompt: Option<&str>,
) -> Vec<Message> {
    let system = system.map(|text| Message::text("system", text));
    let prompt = prompt.map(|text| Message::text("user", text));
    system.into_iter().chain(messages).chain(prompt).collect()
}

/// The messages, their origin for errors, and the folder their image paths are relative to.
fn read_messages(
    source: &Source,
    deadline: &Deadline,
) -> Result<(Vec<Message>, String, std::path::PathBuf)> {
    let (bytes, origin) = read_source("--messages", source, deadline)?;
    let base_dir = match source {
        Source::File(path) => path.parent().unwrap_or(Path::new("")).to_path_buf(),
        Source::Stdin => Path::new("").to_path_buf(),
    };
    Ok((chat::parse_messages(&bytes, &origin)?, origin, base_dir))
}

/// The prompt's token ids and the stops to send (the user's, else the chat defaults).
pub struct Prepared {
    /// The prompt: token ids, with image chunks between them for a vision model.
    pub input: ModelInput,
    /// The text the ids came from, when the prompt was text.
    pub text: Option<String>,
    /// The stop condition to send.
    pub stop: Option<StopCondition>,
    /// The renderer used, in chat mode.
    pub renderer: Option<Renderer>,
}

/// Where chat mode looks for the tokenizer's template and special tokens.
pub struct ChatFiles<'a> {
    /// The loader (hub settings, retries).
    pub loader: &'a TokenizerLoader,
    /// The tokenizer spec whose repository holds the files.
    pub spec: &'a TokenizerSpec,
    /// The run's deadline.
    pub deadline: &'a Deadline,
}

/// The step a timeout names when the deadline passes while the prompt is encoded.
const ENCODING: &str = "encoding the prompt";

/// Encodes `input`: a raw prompt as before, a conversation rendered for `model`.
pub fn prepare(
    config: &RunConfig,
    input: Input,
    tokenizer: Option<&Tokenizer>,
    model: &str,
    files: &ChatFiles,
) -> Result<Prepared> {
    let (messages, images) = match input {
        Input::Prompt(prompt) => {
            let text = match &prompt {
                Prompt::Text(text) => Some(text.clone()),
                Prompt::Tokens(_) => None,
            };
            files.deadline.check(ENCODING)?;
            let tokens = encode_prompt(prompt, tokenizer)?;
            // Encoding cannot be cut short, but the prompt cap bounds it; it still counts.
            files.deadline.check(ENCODING)?;
            let stop = config.params.stop.clone();
            return Ok(Prepared {
                input: ModelInput::from_tokens(tokens),
                text,
                stop,
                renderer: None,
            });
        }
        Input::Messages(messages, images) => (messages, images),
    };
    match (tokenizer, &config.chat) {
        (Some(tokenizer), Some(options)) => {
            let mut setup = ChatSetup::new(options, tokenizer, model, files)?;
            if !images.is_empty() {
                setup.load_preprocessor(model, files, true)?;
            }
            files.deadline.check(ENCODING)?;
            let prepared = setup.prepare(&messages, &images, tokenizer)?;
            files.deadline.check(ENCODING)?;
            Ok(Prepared {
                stop: config.params.stop.clone().or(prepared.stop),
                ..prepared
            })
        }
        _ => Err(Error::Unexpected("chat mode without a tokenizer".into())),
    }
}

/// What rendering needs that stays the same from one conversation to the next: the renderer,
/// the template, the tokenizer's special tokens, the template arguments and the default stops.
pub struct ChatSetup {
    renderer: Renderer,
    template: Option<chat::ChatTemplate>,
    tok_config: TokenizerConfig,
    args: Map<String, Value>,
    default_stop: Option<StopCondition>,
    /// The model's image settings, read when a conversation may hold images.
    preprocessor: Option<Preprocessor>,
    /// The model as a refusal names it ("… takes no images").
    model: String,
}

impl ChatSetup {
    /// Reads the template and tokenizer files once and picks the renderer for `model`.
    pub fn new(
        options: &ChatOptions,
        tokenizer: &Tokenizer,
        model: &str,
        files: &ChatFiles,
    ) -> Result<ChatSetup> {
        let mut args = options.template_args.clone();
        let template = options
            .chat_template
            .as_deref()
            .map(chat::ChatTemplate::from_file)
            .transpose()?;
        let tok_config = TokenizerConfig::load(&mut |file: &str| {
            let found = files.loader.repo_file(files.spec, file, files.deadline)?;
            Ok(found.map(|f| (f.origin, f.bytes)))
        })?;
        if let Some(think) = options.think {
            // A family tinkex does not know may still read a switch in its template.
            let source = template.as_ref().or(tok_config.template.as_ref());
            let (key, value) = chat::think_arg_in(model, think, source.map(|t| t.source.as_str()))?;
            args.entry(key).or_insert(value);
        }
        let renderer = chat::choose_renderer(model, options.renderer, template.is_some(), &args);
        let default_stop = default_stop(model, renderer, tokenizer, &tok_config);
        Ok(ChatSetup {
            renderer,
            template,
            tok_config,
            args,
            default_stop,
            preprocessor: None,
            model: model.to_string(),
        })
    }

    /// Reads the model's `preprocessor_config.json` (found as the tokenizer's files are):
    /// without one the model takes no images, an error when `required` (else a conversation
    /// with images is refused when it is prepared).
    pub fn load_preprocessor(
        &mut self,
        model: &str,
        files: &ChatFiles,
        required: bool,
    ) -> Result<()> {
        let found = files
            .loader
            .repo_file(files.spec, image::PREPROCESSOR_FILE, files.deadline)?;
        let name = match (model, files.spec) {
            ("", TokenizerSpec::File(path)) => format!("the model of {}", path.display()),
            ("", TokenizerSpec::Repo(repo)) => repo.clone(),
            (model, _) => model.to_string(),
        };
        self.model = name.clone();
        if found.is_none() && !required {
            return Ok(());
        }
        let found = found
            .as_ref()
            .map(|f| (f.origin.as_str(), f.bytes.as_slice()));
        self.preprocessor = Some(image::preprocessor_for(&name, found)?);
        Ok(())
    }

    /// Renders `messages` (profile or template) and encodes them piece by piece; `images`
    /// (in message and part order) become image chunks where the template placed them. The
    /// stops are the model's defaults (the caller replaces them with the user's).
    pub fn prepare(
        &self,
        messages: &[Message],
        images: &[Arc<Image>],
        tokenizer: &Tokenizer,
    ) -> Result<Prepared> {
        // Image parts never go out as placeholder text: their images must have been loaded.
        let parts = prompt_images::image_parts(messages);
        if parts != images.len() {
            return Err(Error::Unexpected(format!(
                "{parts} image parts but {} images loaded",
                images.len()
            )));
        }
        let opts = RenderOptions {
            add_generation_prompt: true,
            ..RenderOptions::default()
        };
        let prompt = chat::render(
            self.renderer,
            &self.tok_config,
            self.template.as_ref(),
            messages,
            &self.args,
            &opts,
        )?;
        let encode = |piece: &str| tokenizer.encode_plain(piece);
        let input = match (images.is_empty(), &self.preprocessor) {
            (true, _) => ModelInput::from_tokens(prompt.encode(&encode)?),
            (false, Some(processor)) => {
                prompt_images::encode(&prompt.text(), images, processor, &encode)?
            }
            (false, None) => {
                let refusal = image::preprocessor_for(&self.model, None).err();
                return Err(refusal.unwrap_or(Error::Unexpected("no image settings".into())));
            }
        };
        log::debug!(
            "chat prompt rendered with {}; {} tokens ({} image tokens)",
            self.renderer.name(),
            input.len(),
            prompt_images::image_tokens(&input)
        );
        Ok(Prepared {
            input,
            text: Some(prompt.text()),
            stop: self.default_stop.clone(),
            renderer: Some(self.renderer),
        })
    }
}

/// The `"chat"` entry of JSON output: the renderer, and the stops as they were sent.
pub fn chat_value(renderer: Renderer, stop: Option<&StopCondition>) -> Value {
    let stop = match stop {
        Some(StopCondition::Strings(texts)) => json!(texts),
        Some(StopCondition::Tokens(ids)) => json!(ids),
        None => Value::Null,
    };
    json!({"renderer": renderer.name(), "stop": stop})
}

fn default_stop(
    model: &str,
    renderer: Renderer,
    tokenizer: &Tokenizer,
    config: &TokenizerConfig,
) -> Option<StopCondition> {
    let lookup = |t: &str| tokenizer.token_to_id(t);
    let stops = chat::default_stops(model, renderer, &lookup, config.special_token("eos_token"));
    let texts: Vec<String> = stops
        .iter()
        .filter_map(|s| match s {
            Stop::Text(t) => Some(t.clone()),
            Stop::Token { .. } => None,
        })
        .collect();
    let ids: Vec<u32> = stops
        .iter()
        .filter_map(|s| match s {
            Stop::Token { id, .. } => Some(*id),
            Stop::Text(_) => None,
        })
        .collect();
    match (texts.is_empty(), ids.is_empty()) {
        (false, _) => Some(StopCondition::Strings(texts)),
        (true, false) => Some(StopCondition::Tokens(ids)),
        (true, true) => None,
    }
}

/// `--print-prompt`: render and encode, print the prompt, and exit — no server, no API key.
pub fn print_prompt(config: &RunConfig, source: Option<&PromptSource>) -> Result<()> {
    let deadline = Deadline::starting_at(Instant::now(), config.timeout);
    let input = load_input(config, source, &deadline)?;
    let spec = known_tokenizer(config)
        .ok_or_else(|| Error::usage("--print-prompt needs --base-model or --tokenizer"))?;
    let loader = TokenizerLoader::with_scale(config, crate::client::retry_scale_from_env()?);
    let tokenizer = loader.load(&spec, &deadline)?;
    let model = config.base_model.as_deref().unwrap_or("");
    let files = ChatFiles {
        loader: &loader,
        spec: &spec,
        deadline: &deadline,
    };
    let prepared = prepare(config, input, Some(&tokenizer), model, &files)?;
    let bytes = prompt_bytes(&prepared, &tokenizer, config.output.json)?;
    output::deliver(config.output.path.as_deref(), &bytes).map(|_| ())
}

/// The prompt as printed: its text, then `N tokens` (`N tokens (M image tokens)` with images);
/// or `{"text", "tokens"}` as JSON, with chat mode's `"chat": {"renderer", "stop"}` in the
/// same shape as sampling's `--json`, and with images the chunk layout (never their data).
fn prompt_bytes(prepared: &Prepared, tokenizer: &Tokenizer, json: bool) -> Result<Vec<u8>> {
    let input = &prepared.input;
    let text = match &prepared.text {
        Some(text) => text.clone(),
        None => tokenizer.decode(input.tokens())?,
    };
    let count = input.len();
    let image_tokens = prompt_images::image_tokens(input);
    if json {
        let mut doc = Map::new();
        doc.insert("text".into(), json!(text));
        doc.insert("tokens".into(), json!(input.tokens()));
        if !input.images().is_empty() {
            doc.insert("token_count".into(), json!(count));
            doc.insert("image_tokens".into(), json!(image_tokens));
            doc.insert("chunks".into(), prompt_images::layout(input));
        }
        if let Some(renderer) = prepared.renderer {
            doc.insert("chat".into(), chat_value(renderer, prepared.stop.as_ref()));
        }
        let mut out = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
        out.push('\n');
        return Ok(out.into_bytes());
    }
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    let plural = if count == 1 { "" } else { "s" };
    let images = match input.images().is_empty() {
        true => String::new(),
        false => format!(" ({image_tokens} image tokens)"),
    };
    Ok(format!("{text}{newline}{count} token{plural}{images}\n").into_bytes())
}
