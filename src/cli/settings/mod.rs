//! The validated run configuration: the only form of the flags that travels inward.

use std::path::PathBuf;
use std::time::Duration;

mod chat;

pub use chat::ChatOptions;

use super::args::RunArgs;
use super::batch::shard::ShardSpec;
use super::prompt::{PromptSource, Source};
use crate::client::{SamplingParams, StopCondition};
use crate::error::Error;
use crate::tokenizer::TokenizerSpec;

/// The default `--max-tokens`: some servers require one, and an unbounded sample costs money.
pub const DEFAULT_MAX_TOKENS: u32 = 128;
/// The default `--timeout`, so a cron job can never hang.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The default `--http-pool`.
pub const DEFAULT_HTTP_POOL: usize = 8;

/// Batch-mode options (`--input`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOptions {
    /// `--input`: a JSONL file, or stdin.
    pub input: Source,
    /// `--parallel`.
    pub parallel: usize,
    /// `--resume`.
    pub resume: bool,
    /// `--fail-fast`.
    pub fail_fast: bool,
    /// `--progress` (or stderr is a terminal).
    pub progress: bool,
    /// `--batch-timeout`.
    pub batch_timeout: Option<Duration>,
    /// `--shard`, resolved when the batch starts (`auto` reads the job array's variables).
    pub shard: Option<ShardSpec>,
}

/// One prompt, or a batch of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// `--prompt` / `--prompt-file`; none when chat mode takes its messages from `--messages`.
    Single(Option<PromptSource>),
    /// `--input`.
    Batch(BatchOptions),
    /// `--print-prompt`: one prompt (as in `Single`) rendered and shown; nothing is sent.
    PrintPrompt(Option<PromptSource>),
}

/// The default `--parallel`.
pub const DEFAULT_PARALLEL: usize = 8;

/// How much goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Warnings, errors and status lines.
    Normal,
    /// `-v` (1), `-vv` (2), `-vvv` (3).
    Verbose(u8),
}

/// What to print and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputOptions {
    /// One JSON document instead of plain text.
    pub json: bool,
    /// Write to this file atomically instead of stdout.
    pub path: Option<PathBuf>,
    /// Per-token logprobs in plain output.
    pub logprobs: bool,
    /// Token ids only: no tokenizer, no text.
    pub tokens_only: bool,
}

/// Everything `tinkex run` needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// `--base-model`.
    pub base_model: Option<String>,
    /// `--model-path`, a `tinker://` path.
    pub model_path: Option<String>,
    /// One prompt or a batch.
    pub mode: Mode,
    /// `--tokenizer`, parsed (a file, a directory's `tokenizer.json`, or a hub repo).
    pub tokenizer: Option<TokenizerSpec>,
    /// `--offline`.
    pub offline: bool,
    /// `--no-tokenizer-cache`.
    pub no_tokenizer_cache: bool,
    /// `--num-samples`.
    pub num_samples: u32,
    /// The wire sampling parameters.
    pub params: SamplingParams,
    /// `--prompt-logprobs`.
    pub prompt_logprobs: bool,
    /// `--topk-prompt-logprobs`.
    pub topk_prompt_logprobs: u32,
    /// `--api-key` (the environment is consulted by the client layer).
    pub api_key: Option<String>,
    /// `--base-url`.
    pub base_url: Option<String>,
    /// `--timeout`: the whole run's deadline.
    pub timeout: Duration,
    /// `--http-pool`.
    pub http_pool: usize,
    /// Output options.
    pub output: OutputOptions,
    /// stderr detail.
    pub verbosity: Verbosity,
    /// Chat mode (`--chat`, `--system`, `--messages`), when on.
    pub chat: Option<ChatOptions>,
}

impl TryFrom<RunArgs> for RunConfig {
    type Error = Error;

    /// Checks in a fixed order, so the first problem a user meets is always the same one.
    fn try_from(args: RunArgs) -> Result<RunConfig, Error> {
        check_model(&args)?;
        let chat = chat::options_from(&args)?;
        chat::check_print_prompt(&args)?;
        let mode = mode_from(&args)?;
        check_tokens_only(&args, &mode)?;
        let params = sampling_params(&args)?;
        let verbosity = verbosity_from(&args)?;
        if args
            .output
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(Error::usage("--output is empty"));
        }
        let http_pool = http_pool(&args, &mode);
        Ok(RunConfig {
            tokenizer: args.tokenizer.as_deref().map(TokenizerSpec::parse),
            num_samples: args.num_samples.map_or(1, |n| n.0),
            topk_prompt_logprobs: args.topk_prompt_logprobs.unwrap_or(0),
            timeout: args.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
            output: OutputOptions {
                json: args.json,
                path: args.output,
                logprobs: args.logprobs,
                tokens_only: args.tokens_only,
            },
            base_model: args.base_model,
            model_path: args.model_path,
            mode,
            offline: args.offline,
            no_tokenizer_cache: args.no_tokenizer_cache,
            params,
            prompt_logprobs: args.prompt_logprobs,
            api_key: args.api_key,
            base_url: args.base_url,
            http_pool,
            verbosity,
            chat,
        })
    }
}

/// A model is named, by `--base-model` or a `tinker://` `--model-path`.
fn check_model(args: &RunArgs) -> Result<(), Error> {
    if args.base_model.is_none() && args.model_path.is_none() {
        return Err(Error::usage(
            "no model given: pass --base-model NAME or --model-path tinker://…",
        ));
    }
    if let Some(path) = &args.model_path {
        if !path.starts_with("tinker://") {
            return Err(Error::usage(format!(
                "--model-path must be a tinker:// path, got '{path}'"
            )));
        }
    }
    if args
        .base_model
        .as_deref()
        .is_some_and(|m| m.trim().is_empty())
    {
        return Err(Error::usage("--base-model is empty"));
    }
    Ok(())
}

/// `--tokens-only` sends ids as they are: no text prompt, no tokenizer.
fn check_tokens_only(args: &RunArgs, mode: &Mode) -> Result<(), Error> {
    if args.tokens_only && matches!(mode, Mode::Single(Some(PromptSource::Text(_)))) {
        return Err(Error::usage(
            "--tokens-only needs a token-id prompt: pass --prompt-file with a JSON array of ids",
        ));
    }
    if args.tokens_only && args.tokenizer.is_some() {
        return Err(Error::usage(
            "--tokens-only uses no tokenizer: drop --tokenizer",
        ));
    }
    Ok(())
}

/// `--stop` strings or `--stop-token` ids, never both, never an empty string.
fn stop_from(args: &RunArgs) -> Result<Option<StopCondition>, Error> {
    let stop = match (args.stop.is_empty(), args.stop_token.is_empty()) {
        (false, false) => return Err(Error::usage("give either --stop or --stop-token, not both")),
        (false, true) => Some(StopCondition::Strings(args.stop.clone())),
        (true, false) => Some(StopCondition::Tokens(
            args.stop_token.iter().map(|t| t.0).collect(),
        )),
        (true, true) => None,
    };
    if args.stop_token.is_empty()
        && matches!(&stop, Some(StopCondition::Strings(s)) if s.iter().any(String::is_empty))
    {
        return Err(Error::usage("--stop must not be empty"));
    }
    Ok(stop)
}

/// The wire sampling parameters: the flags, else the defaults (`--max-tokens` 128).
fn sampling_params(args: &RunArgs) -> Result<SamplingParams, Error> {
    let defaults = SamplingParams::default();
    Ok(SamplingParams {
        max_tokens: Some(args.max_tokens.map_or(DEFAULT_MAX_TOKENS, |m| m.0)),
        seed: args.seed,
        stop: stop_from(args)?,
        temperature: args.temperature.map_or(defaults.temperature, |t| t.0),
        top_k: args.top_k.map_or(defaults.top_k, |k| k.0),
        top_p: args.top_p.map_or(defaults.top_p, |p| p.0),
    })
}

/// `-q` or `-v…`, not both.
fn verbosity_from(args: &RunArgs) -> Result<Verbosity, Error> {
    match (args.quiet, args.verbose) {
        (true, 0) => Ok(Verbosity::Quiet),
        (true, _) => Err(Error::usage("give either --quiet or --verbose, not both")),
        (false, 0) => Ok(Verbosity::Normal),
        (false, n) => Ok(Verbosity::Verbose(n)),
    }
}

/// `--http-pool`; batch workers each hold a connection, so it is at least `--parallel`.
fn http_pool(args: &RunArgs, mode: &Mode) -> usize {
    let pool = args.http_pool.map_or(DEFAULT_HTTP_POOL, |n| n.0 as usize);
    match mode {
        Mode::Batch(batch) => pool.max(batch.parallel),
        Mode::Single(_) | Mode::PrintPrompt(_) => pool,
    }
}

/// Decides between one prompt and a batch, and checks the flags that belong to each.
fn mode_from(args: &RunArgs) -> Result<Mode, Error> {
    let batch_only = [
        ("--parallel", args.parallel.is_some()),
        ("--resume", args.resume),
        ("--fail-fast", args.fail_fast),
        ("--progress", args.progress),
        ("--batch-timeout", args.batch_timeout.is_some()),
        ("--shard", args.shard.is_some()),
    ];
    let Some(input) = &args.input else {
        if let Some((flag, _)) = batch_only.iter().find(|(_, given)| *given) {
            return Err(Error::usage(format!(
                "{flag} is for batch mode: it needs --input FILE"
            )));
        }
        let mode = if args.print_prompt {
            Mode::PrintPrompt
        } else {
            Mode::Single
        };
        return single_prompt(args).map(mode);
    };
    if args.prompt.is_some() || args.prompt_file.is_some() {
        return Err(Error::usage(
            "--input takes its prompts from the file: drop --prompt/--prompt-file",
        ));
    }
    let input = match input.as_str() {
        "" => return Err(Error::usage("--input is empty")),
        "-" => Source::Stdin,
        path => Source::File(PathBuf::from(path)),
    };
    Ok(Mode::Batch(BatchOptions {
        input,
        parallel: args.parallel.map_or(DEFAULT_PARALLEL, |p| p.0 as usize),
        resume: args.resume,
        fail_fast: args.fail_fast,
        progress: args.progress,
        batch_timeout: args.batch_timeout.map(|t| t.0),
        shard: args.shard,
    }))
}

fn single_prompt(args: &RunArgs) -> Result<Option<PromptSource>, Error> {
    if args.messages.is_some() && args.prompt.is_none() && args.prompt_file.is_none() {
        return Ok(None);
    }
    prompt_source(args).map(Some)
}

fn prompt_source(args: &RunArgs) -> Result<PromptSource, Error> {
    match (&args.prompt, &args.prompt_file) {
        (Some(_), Some(_)) => Err(Error::usage("give either --prompt or --prompt-file, not both")),
        (None, None) => Err(Error::usage("no prompt given: pass --prompt TEXT or --prompt-file PATH ('-' for stdin), or --input FILE for a batch")),
        (Some(text), None) if text.is_empty() => Err(Error::usage("--prompt is empty")),
        (Some(text), None) => Ok(PromptSource::Text(text.clone())),
        (None, Some(path)) if path == "-" => Ok(PromptSource::Stdin),
        (None, Some(path)) if path.is_empty() => Err(Error::usage("--prompt-file is empty")),
        (None, Some(path)) => Ok(PromptSource::File(PathBuf::from(path))),
    }
}

impl RunConfig {
    /// The name shown in status lines and JSON: the base model, else the model path.
    pub fn model_label(&self) -> &str {
        self.base_model
            .as_deref()
            .or(self.model_path.as_deref())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests;
