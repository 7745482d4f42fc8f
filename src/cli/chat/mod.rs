//! Chat mode on the command line: the chat flags validated, the conversation assembled from
//! `--system`, `--messages` and the prompt, rendered and encoded; and `--print-prompt`.

use std::io::Read;

mod options;

use options::usage;
pub use options::{check_print_prompt, options_from, ChatOptions};

use serde_json::{json, Map, Value};

use super::prompt::{self, Prompt};
use super::run::{encode_prompt, known_tokenizer, TokenizerLoader};
use super::settings::{Mode, PromptSource, RunConfig};
use super::sink::{self, Delivery};
use crate::chat::{self, Message, RenderOptions, Renderer, Stop, TokenizerConfig};
use crate::client::StopCondition;
use crate::error::{Error, Result};
use crate::tokenizer::{Tokenizer, TokenizerSpec};
use crate::Deadline;

/// What the run sends: a raw prompt, or a conversation to render.
pub enum Input {
    /// The prompt as given (text or ids).
    Raw(Prompt),
    /// Messages, in order.
    Chat(Vec<Message>),
}

/// Reads the prompt and, in chat mode, the messages around it.
pub fn load_input(config: &RunConfig, source: Option<&PromptSource>) -> Result<Input> {
    let Some(chat) = &config.chat else {
        let source = source.ok_or_else(|| Error::Unexpected("no prompt source".into()))?;
        return prompt::load(source).map(Input::Raw);
    };
    let mut messages = Vec::new();
    if let Some(system) = &chat.system {
        messages.push(Message::text("system", system));
    }
    if let Some(source) = &chat.messages {
        messages.extend(read_messages(source)?);
    }
    if let Some(source) = source {
        match prompt::load(source)? {
            Prompt::Text(text) => messages.push(Message::text("user", &text)),
            Prompt::Tokens(_) => {
                return Err(Error::input(
                    "chat mode needs a text prompt, but the prompt holds token ids",
                ))
            }
        }
    }
    if messages.is_empty() {
        return Err(usage("chat mode needs a prompt or --messages"));
    }
    Ok(Input::Chat(messages))
}

fn read_messages(source: &PromptSource) -> Result<Vec<Message>> {
    let (bytes, origin) = match source {
        PromptSource::File(path) => {
            let origin = format!("--messages {}", path.display());
            let bytes = std::fs::read(path).map_err(|e| {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file".to_string(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => e.to_string(),
                };
                Error::input(format!("{origin}: {why}"))
            })?;
            (bytes, origin)
        }
        PromptSource::Stdin | PromptSource::Text(_) => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::input(format!("--messages -: cannot read stdin: {e}")))?;
            (bytes, "--messages - (stdin)".to_string())
        }
    };
    chat::parse_messages(&bytes, &origin)
}

/// The prompt's token ids and the stops to send (the user's, else the chat defaults).
pub struct Prepared {
    /// The prompt's token ids.
    pub tokens: Vec<u32>,
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

/// Encodes `input`: a raw prompt as before, a conversation rendered for `model`.
pub fn prepare(
    config: &RunConfig,
    input: Input,
    tokenizer: Option<&Tokenizer>,
    model: &str,
    files: &ChatFiles,
) -> Result<Prepared> {
    let messages = match input {
        Input::Raw(prompt) => {
            let text = match &prompt {
                Prompt::Text(text) => Some(text.clone()),
                Prompt::Tokens(_) => None,
            };
            let tokens = encode_prompt(prompt, tokenizer)?;
            let stop = config.params.stop.clone();
            return Ok(Prepared {
                tokens,
                text,
                stop,
                renderer: None,
            });
        }
        Input::Chat(messages) => messages,
    };
    match (tokenizer, &config.chat) {
        (Some(tokenizer), Some(options)) => {
            prepare_chat(config, options, &messages, tokenizer, model, files)
        }
        _ => Err(Error::Unexpected("chat mode without a tokenizer".into())),
    }
}

/// Renders the conversation (profile or template), encodes it piece by piece, picks the stops.
fn prepare_chat(
    config: &RunConfig,
    options: &ChatOptions,
    messages: &[Message],
    tokenizer: &Tokenizer,
    model: &str,
    files: &ChatFiles,
) -> Result<Prepared> {
    let mut args = options.template_args.clone();
    if let Some(think) = options.think {
        let (key, value) = chat::think_arg(model, think)?;
        args.entry(key).or_insert(value);
    }
    let template = options
        .chat_template
        .as_deref()
        .map(chat::ChatTemplate::from_file)
        .transpose()?;
    let renderer = chat::choose_renderer(model, options.renderer, template.is_some(), &args);
    let tok_config = tokenizer_config(files)?;
    let opts = RenderOptions {
        add_generation_prompt: true,
        ..RenderOptions::default()
    };
    let prompt = chat::render(
        renderer,
        &tok_config,
        template.as_ref(),
        messages,
        &args,
        &opts,
    )?;
    let tokens = prompt.encode(&|piece| tokenizer.encode_plain(piece))?;
    let stop = match &config.params.stop {
        Some(stop) => Some(stop.clone()),
        None => default_stop(model, renderer, tokenizer, &tok_config),
    };
    log::debug!(
        "chat prompt rendered with {}; {} tokens",
        renderer.name(),
        tokens.len()
    );
    Ok(Prepared {
        tokens,
        text: Some(prompt.text()),
        stop,
        renderer: Some(renderer),
    })
}

fn tokenizer_config(files: &ChatFiles) -> Result<TokenizerConfig> {
    let config = files
        .loader
        .repo_file(files.spec, chat::CONFIG_FILE, files.deadline)?;
    let template = files
        .loader
        .repo_file(files.spec, chat::TEMPLATE_FILE, files.deadline)?;
    TokenizerConfig::from_sources(
        config
            .as_ref()
            .map(|f| (f.origin.as_str(), f.bytes.as_slice())),
        template
            .as_ref()
            .map(|f| (f.origin.as_str(), f.bytes.as_slice())),
    )
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
pub fn print_prompt(config: &RunConfig, deadline: &Deadline) -> Result<()> {
    let source = match &config.mode {
        Mode::Single(source) => source.as_ref(),
        Mode::Batch(_) => return Err(usage("--print-prompt cannot be used with --input")),
    };
    let input = load_input(config, source)?;
    let spec = known_tokenizer(config)
        .ok_or_else(|| usage("--print-prompt needs --base-model or --tokenizer"))?;
    let loader = TokenizerLoader::with_scale(config, retry_scale()?);
    let tokenizer = loader.load(&spec, deadline)?;
    let model = config.base_model.as_deref().unwrap_or("");
    let files = ChatFiles {
        loader: &loader,
        spec: &spec,
        deadline,
    };
    let prepared = prepare(config, input, Some(&tokenizer), model, &files)?;
    let bytes = prompt_bytes(&prepared, &tokenizer, config.output.json)?;
    match &config.output.path {
        Some(path) => sink::to_file_atomically(path, &bytes),
        None => sink::to_stdout(&bytes).map(|_: Delivery| ()),
    }
}

/// The prompt as printed: its text, then `N tokens`; or `{"text", "tokens"}` as JSON.
fn prompt_bytes(prepared: &Prepared, tokenizer: &Tokenizer, json: bool) -> Result<Vec<u8>> {
    let text = match &prepared.text {
        Some(text) => text.clone(),
        None => tokenizer.decode(&prepared.tokens)?,
    };
    let count = prepared.tokens.len();
    if json {
        let mut doc = Map::new();
        doc.insert("text".into(), json!(text));
        doc.insert("tokens".into(), json!(prepared.tokens));
        if let Some(renderer) = prepared.renderer {
            doc.insert("renderer".into(), json!(renderer.name()));
        }
        match &prepared.stop {
            Some(StopCondition::Strings(s)) => doc.insert("stop".into(), json!(s)),
            Some(StopCondition::Tokens(ids)) => doc.insert("stop_tokens".into(), json!(ids)),
            None => None,
        };
        let mut out = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
        out.push('\n');
        return Ok(out.into_bytes());
    }
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    let plural = if count == 1 { "" } else { "s" };
    Ok(format!("{text}{newline}{count} token{plural}\n").into_bytes())
}

/// `TINKEX_RETRY_SCALE`, for hub retries when no client config exists (`--print-prompt`).
fn retry_scale() -> Result<f64> {
    match std::env::var("TINKEX_RETRY_SCALE") {
        Err(_) => Ok(1.0),
        Ok(raw) => match raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(usage(format!(
                "TINKEX_RETRY_SCALE must be a non-negative number, got '{}'",
                raw.trim()
            ))),
        },
    }
}
