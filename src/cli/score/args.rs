//! `tinkex score` flags as argh sees them, and their validation into a [`ScoreConfig`]: the
//! connection, model, tokenizer, chat and batch flags are `run`'s and validated by its rules.

use std::path::PathBuf;

use argh::FromArgs;

use crate::cli::args::RunArgs;
use crate::cli::settings::{Mode, RunConfig};
use crate::cli::values::{Concurrency, TimeoutSecs};
use crate::error::{Error, Result};

/// Most choices one scoring may compare (each is one request).
pub const MAX_CHOICES: usize = 1024;

#[derive(FromArgs, Debug, Default)]
/// Score text: log P(continuation | context), multiple choice, or a whole text's per-token logprobs.
#[argh(
    subcommand,
    name = "score",
    example = "How likely is this continuation?\n  $ tinkex score --base-model Qwen/Qwen3-8B --context \"The capital of France is\" --continuation \" Paris\"",
    example = "Which choice does the model prefer?\n  $ tinkex score --base-model Qwen/Qwen3-8B --context \"2 + 2 =\" --choice \" 4\" --choice \" 5\" --choice \" 22\" --json",
    example = "Every token of a text:\n  $ tinkex score --base-model Qwen/Qwen3-8B --prompt-file text.txt --per-token",
    example = "A batch, 16 lines at a time, resumable:\n  $ tinkex score --base-model Qwen/Qwen3-8B --input items.jsonl --output scores.jsonl --parallel 16 --resume",
    note = "The context is encoded as 'tinkex run' encodes a prompt (special tokens such as a BOS added as the tokenizer adds them); each continuation is encoded on its own, without special tokens, and the ids are joined: the boundary is exactly where you put it, so put the space that separates them at the start of the continuation (\" Paris\"). Each continuation is one request that scores only its own tokens (prompt_logprobs_last_n). The credential, base URL, logging and exit codes are those of 'tinkex run' (see 'tinkex run --help').",
    error_code(0, "success"),
    error_code(1, "unexpected failure"),
    error_code(2, "usage or input error"),
    error_code(3, "authentication or permission error"),
    error_code(4, "server or network failure after retries"),
    error_code(5, "timeout (--timeout passed)")
)]
pub struct ScoreArgs {
    /// base model to score with, e.g. Qwen/Qwen3-8B
    #[argh(option)]
    pub base_model: Option<String>,

    /// saved weights to score with: a tinker://… path
    #[argh(option)]
    pub model_path: Option<String>,

    /// the context text (encoded as 'run' encodes a prompt)
    #[argh(option)]
    pub context: Option<String>,

    /// the continuation to score after the context (encoded alone, no special tokens)
    #[argh(option)]
    pub continuation: Option<String>,

    /// a choice to score after the context (repeatable; the best is marked)
    #[argh(option)]
    pub choice: Vec<String>,

    /// the context as token ids: a JSON file holding [ids] or {"tokens": [ids]}
    #[argh(option)]
    pub context_tokens: Option<PathBuf>,

    /// a continuation as token ids, a JSON file like --context-tokens (repeatable: choices)
    #[argh(option)]
    pub continuation_tokens: Vec<PathBuf>,

    /// score every token of this text ('-' = stdin; text or token ids, as 'run --prompt-file')
    #[argh(option)]
    pub prompt_file: Option<String>,

    /// add a line per token (id, logprob, text) after each result
    #[argh(switch)]
    pub per_token: bool,

    /// tokenizer to use: a tokenizer.json file, a directory holding one, or a Hugging Face repo id
    #[argh(option)]
    pub tokenizer: Option<String>,

    /// never touch the network for the tokenizer (as HF_HUB_OFFLINE=1)
    #[argh(switch)]
    pub offline: bool,

    /// do not use or write tinkex's tokenizer cache
    #[argh(switch)]
    pub no_tokenizer_cache: bool,

    /// chat mode: the context is a user message in the model's chat format, with the generation prompt
    #[argh(switch)]
    pub chat: bool,

    /// chat mode: a system message to put first (implies --chat)
    #[argh(option)]
    pub system: Option<String>,

    /// chat mode: a JSON array of {"role", "content"} messages ('-' = stdin); --context is appended as the last user message
    #[argh(option)]
    pub messages: Option<String>,

    /// chat mode: render with this Jinja template instead of the model's
    #[argh(option)]
    pub chat_template: Option<PathBuf>,

    /// chat mode: a template variable as KEY=JSON (repeatable)
    #[argh(option)]
    pub template_arg: Vec<String>,

    /// chat mode: turn the model's thinking on
    #[argh(switch)]
    pub think: bool,

    /// chat mode: turn the model's thinking off
    #[argh(switch)]
    pub no_think: bool,

    /// chat mode: role_colon, llama3, gpt_oss_no_sysprompt, or hf; default: by model
    #[argh(option)]
    pub renderer: Option<String>,

    /// batch mode: a JSONL file ('-' = stdin) of {"id"?, "context" | "messages", "continuation" | "choices"}
    #[argh(option)]
    pub input: Option<String>,

    /// batch mode: lines scored at once, 1–1024 (default: 8)
    #[argh(option)]
    pub parallel: Option<Concurrency>,

    /// batch mode: continue an interrupted --output journal, retrying failed lines
    #[argh(switch)]
    pub resume: bool,

    /// batch mode: stop at the first failed line
    #[argh(switch)]
    pub fail_fast: bool,

    /// batch mode: print progress to stderr even when it is not a terminal
    #[argh(switch)]
    pub progress: bool,

    /// batch mode: deadline for the whole batch, in seconds (default: none)
    #[argh(option)]
    pub batch_timeout: Option<TimeoutSecs>,

    /// batch mode: score only shard K of N (K is 1-based: 1/N … N/N), the input lines whose number ≡ K (mod N); 'auto' reads a Slurm, AWS Batch, Cloud Run or Kubernetes job array's variables
    #[argh(option)]
    pub shard: Option<crate::cli::batch::shard::ShardSpec>,

    /// the Tinker API key (default: TINKER_API_KEY); prefer the variable, flags show in `ps`
    #[argh(option)]
    pub api_key: Option<String>,

    /// the Tinker API base URL (default: TINKER_BASE_URL, else the production service)
    #[argh(option)]
    pub base_url: Option<String>,

    /// deadline in seconds: the whole run, or each line in batch mode (default: 600)
    #[argh(option)]
    pub timeout: Option<TimeoutSecs>,

    /// HTTP connections to keep open, 1–1024 (default: 8)
    #[argh(option)]
    pub http_pool: Option<Concurrency>,

    /// print one JSON document instead of plain text
    #[argh(switch)]
    pub json: bool,

    /// write the output to this file (atomically; in batch mode, a journal) instead of stdout
    #[argh(option)]
    pub output: Option<PathBuf>,

    /// print nothing on stderr but errors
    #[argh(switch, short = 'q')]
    pub quiet: bool,

    /// more detail on stderr: -v requests, -vv debug, -vvv trace
    #[argh(switch, short = 'v')]
    pub verbose: u8,
}

/// What one scoring compares against the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuations {
    /// `--continuation` / `--choice`s, as text.
    Texts(Vec<String>),
    /// `--continuation-tokens` files.
    TokenFiles(Vec<PathBuf>),
}

/// What to score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A context (`--context`, `--messages`, or `--context-tokens`) and what follows it.
    Pair {
        /// `--context-tokens`, when the context is ids.
        context_tokens: Option<PathBuf>,
        /// The continuation(s).
        continuations: Continuations,
        /// Whether they were given as choices (the best is marked).
        choices: bool,
    },
    /// `--prompt-file`: every token of the text after the first.
    Whole,
    /// `--input`: a batch.
    Batch,
}

/// `tinkex score`, validated.
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    /// The shared flags, validated by `run`'s rules (the context plays the prompt's part).
    pub run: RunConfig,
    /// What to score.
    pub target: Target,
    /// `--per-token`.
    pub per_token: bool,
}

/// The hint every usage error of `tinkex score` ends with.
pub const HINT: &str = "run 'tinkex score --help' for the flags and examples";

/// A usage error of `tinkex score` (exit 2), with its own help hint.
pub fn usage(message: impl Into<String>) -> Error {
    Error::Input {
        message: message.into(),
        hint: Some(HINT.into()),
    }
}

impl TryFrom<ScoreArgs> for ScoreConfig {
    type Error = Error;

    fn try_from(args: ScoreArgs) -> Result<ScoreConfig> {
        let target = target(&args)?;
        let per_token = args.per_token;
        let run = RunConfig::try_from(run_args(args)).map_err(|e| match e {
            Error::Usage(message) => usage(message),
            other => other,
        })?;
        if matches!(target, Target::Batch) != matches!(run.mode, Mode::Batch(_)) {
            return Err(Error::Unexpected("score mode and run mode disagree".into()));
        }
        Ok(ScoreConfig {
            run,
            target,
            per_token,
        })
    }
}

/// Decides what is scored and refuses the combinations that make no sense.
fn target(args: &ScoreArgs) -> Result<Target> {
    let texts = args.continuation.iter().chain(&args.choice).count();
    let files = args.continuation_tokens.len();
    let has_context =
        args.context.is_some() || args.context_tokens.is_some() || args.messages.is_some();
    if args.input.is_some() {
        let given = [
            ("--context", args.context.is_some()),
            ("--context-tokens", args.context_tokens.is_some()),
            ("--continuation", args.continuation.is_some()),
            ("--choice", !args.choice.is_empty()),
            ("--continuation-tokens", files > 0),
            ("--prompt-file", args.prompt_file.is_some()),
            ("--per-token", args.per_token),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(usage(format!(
                "--input takes everything from its lines: drop {flag}"
            )));
        }
        return Ok(Target::Batch);
    }
    let chat = args.chat || args.system.is_some() || args.messages.is_some();
    if args.prompt_file.is_some() {
        if has_context || texts + files > 0 {
            return Err(usage(
                "--prompt-file scores a whole text: drop --context/--continuation/--choice",
            ));
        }
        if chat {
            return Err(usage(
                "--prompt-file scores a text as it is: chat mode does not apply",
            ));
        }
        return Ok(Target::Whole);
    }
    check_texts(args)?;
    if args.context.is_some() && args.context_tokens.is_some() {
        return Err(usage("give either --context or --context-tokens, not both"));
    }
    if args.context_tokens.is_some() && chat {
        return Err(usage(
            "--context-tokens is ids as they are: it cannot be used with chat mode",
        ));
    }
    if !has_context {
        return Err(usage("nothing to score: pass --context TEXT with --continuation TEXT or --choice TEXT…, --prompt-file FILE, or --input FILE for a batch"));
    }
    if args.continuation.is_some() && !args.choice.is_empty() {
        return Err(usage("give either --continuation or --choice, not both"));
    }
    let continuations = match (texts, files) {
        (0, 0) => return Err(usage("no continuation: pass --continuation TEXT, --choice TEXT (repeatable) or --continuation-tokens FILE")),
        (_, 0) => Continuations::Texts(args.continuation.iter().chain(&args.choice).cloned().collect()),
        (0, _) => Continuations::TokenFiles(args.continuation_tokens.clone()),
        _ => return Err(usage("give continuations either as text or as --continuation-tokens, not both")),
    };
    if texts + files > MAX_CHOICES {
        return Err(usage(format!(
            "at most {MAX_CHOICES} choices, got {}",
            texts + files
        )));
    }
    Ok(Target::Pair {
        context_tokens: args.context_tokens.clone(),
        continuations,
        choices: !args.choice.is_empty() || files > 1,
    })
}

/// Empty texts are refused by name before anything is read.
fn check_texts(args: &ScoreArgs) -> Result<()> {
    if args.context.as_deref() == Some("") {
        return Err(usage("--context is empty"));
    }
    if args.continuation.as_deref() == Some("") {
        return Err(usage("--continuation is empty"));
    }
    if let Some(i) = args.choice.iter().position(String::is_empty) {
        return Err(usage(format!("--choice {} is empty", i + 1)));
    }
    Ok(())
}

/// The flags `run` shares, as `run` would get them; the context stands in for its prompt.
fn run_args(args: ScoreArgs) -> RunArgs {
    let prompt_file = args.prompt_file.or_else(|| {
        args.context_tokens
            .as_ref()
            .map(|p| p.display().to_string())
    });
    RunArgs {
        base_model: args.base_model,
        model_path: args.model_path,
        prompt: args.context,
        prompt_file,
        tokenizer: args.tokenizer,
        offline: args.offline,
        no_tokenizer_cache: args.no_tokenizer_cache,
        chat: args.chat,
        system: args.system,
        messages: args.messages,
        chat_template: args.chat_template,
        template_arg: args.template_arg,
        think: args.think,
        no_think: args.no_think,
        renderer: args.renderer,
        input: args.input,
        parallel: args.parallel,
        resume: args.resume,
        fail_fast: args.fail_fast,
        progress: args.progress,
        batch_timeout: args.batch_timeout,
        shard: args.shard,
        api_key: args.api_key,
        base_url: args.base_url,
        timeout: args.timeout,
        http_pool: args.http_pool,
        json: args.json,
        output: args.output,
        quiet: args.quiet,
        verbose: args.verbose,
        ..RunArgs::default()
    }
}
