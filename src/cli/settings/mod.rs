//! The validated run configuration: the only form of the flags that travels inward.

use std::path::PathBuf;
use std::time::Duration;

mod chat;
mod groups;

pub use chat::ChatOptions;
pub use groups::Groups;

pub use super::flags::groups::{Verbosity, DEFAULT_TIMEOUT};
use super::flags::values::ShardSpec;
use super::prompt::{PromptSource, Source};
use crate::client::{SampleExtras, SamplingParams, SessionMeta};
use crate::error::Error;
use crate::tokenizer::TokenizerSpec;
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
    /// `--topk-logprobs`: alternatives per sampled token (0 = not asked for).
    pub topk_logprobs: u32,
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
    /// `--session-name`, `--meta`: what the session says about its job.
    pub session: SessionMeta,
}

impl TryFrom<Groups> for RunConfig {
    type Error = Error;

    /// Checks in a fixed order, so the first problem a user meets is always the same one.
    fn try_from(args: Groups) -> Result<RunConfig, Error> {
        args.model.validate()?;
        let chat = chat::options_from(&args)?;
        chat::check_print_prompt(&args)?;
        let mode = mode_from(&args)?;
        check_tokens_only(&args, &mode)?;
        let params = args.sampling.params()?;
        let verbosity = args.verbosity.validate()?;
        args.output.validate()?;
        let http_pool = http_pool(&args, &mode);
        let connection = args.connection.validate()?;
        let session = args.session.validate()?;
        let sampling = args.sampling;
        Ok(RunConfig {
            tokenizer: args
                .tokenizer
                .tokenizer
                .as_deref()
                .map(TokenizerSpec::parse),
            num_samples: sampling.num_samples.map_or(1, |n| n.0),
            topk_prompt_logprobs: sampling.topk_prompt_logprobs.unwrap_or(0),
            topk_logprobs: sampling.topk_logprobs.map_or(0, |k| k.0),
            timeout: connection.timeout,
            output: OutputOptions {
                json: args.output.json,
                path: args.output.output,
                logprobs: args.render.logprobs,
                tokens_only: args.render.tokens_only,
            },
            base_model: args.model.base_model,
            model_path: args.model.model_path,
            mode,
            offline: args.tokenizer.offline,
            no_tokenizer_cache: args.tokenizer.no_tokenizer_cache,
            params,
            prompt_logprobs: sampling.prompt_logprobs,
            api_key: connection.api_key,
            base_url: connection.base_url,
            http_pool,
            verbosity,
            chat,
            session,
        })
    }
}

/// `--tokens-only` sends ids as they are: no text prompt, no tokenizer.
fn check_tokens_only(args: &Groups, mode: &Mode) -> Result<(), Error> {
    if args.render.tokens_only && matches!(mode, Mode::Single(Some(PromptSource::Text(_)))) {
        return Err(Error::usage(
            "--tokens-only needs a token-id prompt: pass --prompt-file with a JSON array of ids",
        ));
    }
    if args.render.tokens_only && args.tokenizer.tokenizer.is_some() {
        return Err(Error::usage(
            "--tokens-only uses no tokenizer: drop --tokenizer",
        ));
    }
    Ok(())
}

/// `--http-pool`; batch workers each hold a connection, so it is at least `--parallel`.
fn http_pool(args: &Groups, mode: &Mode) -> usize {
    let pool = args
        .pool
        .http_pool
        .map_or(DEFAULT_HTTP_POOL, |n| n.0 as usize);
    match mode {
        Mode::Batch(batch) => pool.max(batch.parallel),
        Mode::Single(_) | Mode::PrintPrompt(_) => pool,
    }
}

/// Decides between one prompt and a batch, and checks the flags that belong to each.
fn mode_from(args: &Groups) -> Result<Mode, Error> {
    let batch_only = [
        ("--parallel", args.batch.parallel.is_some()),
        ("--resume", args.batch.resume),
        ("--fail-fast", args.batch.fail_fast),
        ("--progress", args.batch.progress),
        ("--batch-timeout", args.batch.batch_timeout.is_some()),
        ("--shard", args.batch.shard.is_some()),
    ];
    let Some(input) = &args.batch.input else {
        if let Some((flag, _)) = batch_only.iter().find(|(_, given)| *given) {
            return Err(Error::usage(format!(
                "{flag} is for batch mode: it needs --input FILE"
            )));
        }
        let mode = if args.render.print_prompt {
            Mode::PrintPrompt
        } else {
            Mode::Single
        };
        return single_prompt(args).map(mode);
    };
    if args.prompt.prompt.is_some() || args.prompt.prompt_file.is_some() {
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
        parallel: args
            .batch
            .parallel
            .map_or(DEFAULT_PARALLEL, |p| p.0 as usize),
        resume: args.batch.resume,
        fail_fast: args.batch.fail_fast,
        progress: args.batch.progress,
        batch_timeout: args.batch.batch_timeout.map(|t| t.0),
        shard: args.batch.shard,
    }))
}

fn single_prompt(args: &Groups) -> Result<Option<PromptSource>, Error> {
    if args.chat.messages.is_some()
        && args.prompt.prompt.is_none()
        && args.prompt.prompt_file.is_none()
    {
        return Ok(None);
    }
    prompt_source(args).map(Some)
}

fn prompt_source(args: &Groups) -> Result<PromptSource, Error> {
    match (&args.prompt.prompt, &args.prompt.prompt_file) {
        (Some(_), Some(_)) => Err(Error::usage("give either --prompt or --prompt-file, not both")),
        // `echo hi | tinkex run …`: piped stdin is the prompt, as with `--prompt-file -`.
        (None, None) if stdin_is_piped() => Ok(PromptSource::Stdin),
        (None, None) => Err(Error::usage("no prompt given: pass --prompt TEXT or --prompt-file PATH ('-' for stdin), or --input FILE for a batch")),
        (Some(text), None) if text.is_empty() => Err(Error::usage("--prompt is empty")),
        (Some(text), None) => Ok(PromptSource::Text(text.clone())),
        (None, Some(path)) if path == "-" => Ok(PromptSource::Stdin),
        (None, Some(path)) if path.is_empty() => Err(Error::usage("--prompt-file is empty")),
        (None, Some(path)) => Ok(PromptSource::File(PathBuf::from(path))),
    }
}

/// Whether stdin is a pipe, a socket or a file: something that was given on purpose. A
/// terminal or `/dev/null` (a cron job's usual stdin), both character devices, is not.
fn stdin_is_piped() -> bool {
    // SAFETY: fstat on fd 0 into a zeroed struct; a closed fd is an error, not UB.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(0, &mut stat) } != 0 {
        return false;
    }
    matches!(
        stat.st_mode & libc::S_IFMT,
        libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFREG
    )
}

impl RunConfig {
    /// The name shown in status lines and JSON: the base model, else the model path.
    pub fn model_label(&self) -> &str {
        self.base_model
            .as_deref()
            .or(self.model_path.as_deref())
            .unwrap_or("")
    }

    /// What a sample asks for besides samples: the prompt flags, and `topk` sampled alternatives.
    pub fn extras(&self, topk: u32) -> SampleExtras {
        SampleExtras {
            prompt_logprobs: self.prompt_logprobs,
            topk_prompt_logprobs: self.topk_prompt_logprobs,
            topk_sample_logprobs: topk,
            prompt_logprobs_last_n: None,
        }
    }
}
