//! The chat flags, validated: which are on, their values parsed, their combinations checked.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::groups::Groups;
use crate::chat::Renderer;
use crate::cli::prompt::Source;
use crate::error::{Error, Result};

/// The validated chat flags.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatOptions {
    /// `--system`.
    pub system: Option<String>,
    /// `--messages`: a file, or stdin.
    pub messages: Option<Source>,
    /// `--chat-template`.
    pub chat_template: Option<PathBuf>,
    /// `--template-arg`s, in order.
    pub template_args: Map<String, Value>,
    /// `--think` (true) or `--no-think` (false).
    pub think: Option<bool>,
    /// `--renderer`.
    pub renderer: Option<Renderer>,
    /// `--image` files (`run` only; filled in by `run`'s config), in order.
    pub images: Vec<PathBuf>,
}

/// The chat options, or `None` without `--chat`, `--system` or `--messages` (then the other
/// chat flags are errors).
pub fn options_from(args: &Groups) -> Result<Option<ChatOptions>> {
    let active = args.chat.chat || args.chat.system.is_some() || args.chat.messages.is_some();
    let chat_only = [
        ("--chat-template", args.chat.chat_template.is_some()),
        ("--template-arg", !args.chat.template_arg.is_empty()),
        ("--think", args.chat.think),
        ("--no-think", args.chat.no_think),
        ("--renderer", args.chat.renderer.is_some()),
    ];
    if !active {
        if let Some((flag, _)) = chat_only.iter().find(|(_, given)| *given) {
            let or = if args.batch.input.is_some() {
                "--system"
            } else {
                "--system/--messages"
            };
            return Err(Error::usage(format!(
                "{flag} is for chat mode: add --chat (or {or})"
            )));
        }
        return Ok(None);
    }
    if args.chat.think && args.chat.no_think {
        return Err(Error::usage("give either --think or --no-think, not both"));
    }
    if args.render.tokens_only {
        return Err(Error::usage(
            "--tokens-only sends token ids as they are: it cannot be used with chat mode",
        ));
    }
    if args.batch.input.is_some() && args.chat.messages.is_some() {
        return Err(Error::usage(
            "--messages is one conversation: in batch mode each --input line gives its own \"messages\"",
        ));
    }
    Ok(Some(ChatOptions {
        system: args.chat.system.clone(),
        messages: messages_source(args)?,
        chat_template: args.chat.chat_template.clone(),
        template_args: template_args(&args.chat.template_arg)?,
        think: (args.chat.think || args.chat.no_think).then_some(args.chat.think),
        renderer: args
            .chat
            .renderer
            .as_deref()
            .map(Renderer::from_name)
            .transpose()?,
        images: Vec::new(),
    }))
}

fn messages_source(args: &Groups) -> Result<Option<Source>> {
    match args.chat.messages.as_deref() {
        None => Ok(None),
        Some("") => Err(Error::usage("--messages is empty")),
        Some("-") if args.prompt.prompt_file.as_deref() == Some("-") => Err(Error::usage(
            "--messages - and --prompt-file - cannot both read stdin",
        )),
        Some("-") => Ok(Some(Source::Stdin)),
        Some(path) => Ok(Some(Source::File(PathBuf::from(path)))),
    }
}

fn template_args(raw_args: &[String]) -> Result<Map<String, Value>> {
    let mut args = Map::new();
    for raw in raw_args {
        let (key, value) = parse_template_arg(raw)?;
        if args.insert(key.clone(), value).is_some() {
            return Err(Error::usage(format!("--template-arg {key} is given twice")));
        }
    }
    Ok(args)
}

/// `KEY=JSON`, as Python's `apply_chat_template(KEY=value)` would take it.
fn parse_template_arg(raw: &str) -> Result<(String, Value)> {
    let Some((key, json)) = raw.split_once('=') else {
        return Err(Error::usage(format!(
            "--template-arg takes KEY=JSON (e.g. enable_thinking=false), got '{raw}'"
        )));
    };
    let valid_key = key
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid_key {
        return Err(Error::usage(format!(
            "--template-arg: '{key}' is not a template variable name"
        )));
    }
    if key == "messages" {
        return Err(Error::usage(
            "--template-arg: messages come from --messages, not a template argument",
        ));
    }
    let value = serde_json::from_str(json).map_err(|e| {
        Error::usage(format!(
            "--template-arg {key}: '{json}' is not valid JSON ({e}); text needs quotes: {key}='\"high\"'"
        ))
    })?;
    Ok((key.to_string(), value))
}

/// `--print-prompt` checks: one prompt, a tokenizer known without asking the server.
pub fn check_print_prompt(args: &Groups) -> Result<()> {
    if !args.render.print_prompt {
        return Ok(());
    }
    if args.batch.input.is_some() {
        return Err(Error::usage(
            "--print-prompt shows one prompt: it cannot be used with --input",
        ));
    }
    if args.render.tokens_only {
        return Err(Error::usage(
            "--print-prompt encodes with a tokenizer: drop --tokens-only",
        ));
    }
    if args.model.base_model.is_none() && args.tokenizer.tokenizer.is_none() {
        return Err(Error::usage(
            "--print-prompt with --model-path needs --base-model or --tokenizer (it asks no server for the base model)",
        ));
    }
    Ok(())
}
