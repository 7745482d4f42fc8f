//! The validated run configuration: the only form of the flags that travels inward.

use std::path::PathBuf;
use std::time::Duration;

use super::args::RunArgs;
use super::chat::{self, ChatOptions};
use crate::client::{SamplingParams, StopCondition};
use crate::error::Error;

/// The default `--max-tokens`: some servers require one, and an unbounded sample costs money.
pub const DEFAULT_MAX_TOKENS: u32 = 128;
/// The default `--timeout`, so a cron job can never hang.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The default `--http-pool`.
pub const DEFAULT_HTTP_POOL: usize = 8;

/// Where the prompt comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptSource {
    /// `--prompt TEXT`
    Text(String),
    /// `--prompt-file PATH`
    File(PathBuf),
    /// `--prompt-file -`
    Stdin,
}

/// Batch-mode options (`--input`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOptions {
    /// `--input`: a JSONL file, or stdin.
    pub input: PromptSource,
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
}

/// One prompt, or a batch of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// `--prompt` / `--prompt-file`; none when chat mode takes its messages from `--messages`.
    Single(Option<PromptSource>),
    /// `--input`.
    Batch(BatchOptions),
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
    /// `--tokenizer`.
    pub tokenizer: Option<String>,
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
    /// `--print-prompt`: show the prompt and exit.
    pub print_prompt: bool,
}

fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

impl TryFrom<RunArgs> for RunConfig {
    type Error = Error;

    fn try_from(args: RunArgs) -> Result<RunConfig, Error> {
        if args.base_model.is_none() && args.model_path.is_none() {
            return Err(usage(
                "no model given: pass --base-model NAME or --model-path tinker://…",
            ));
        }
        if let Some(path) = &args.model_path {
            if !path.starts_with("tinker://") {
                return Err(usage(format!(
                    "--model-path must be a tinker:// path, got '{path}'"
                )));
            }
        }
        if args
            .base_model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(usage("--base-model is empty"));
        }
        let chat = chat::options_from(&args)?;
        chat::check_print_prompt(&args)?;
        let mode = mode_from(&args)?;
        if args.tokens_only && matches!(mode, Mode::Single(Some(PromptSource::Text(_)))) {
            return Err(usage("--tokens-only needs a token-id prompt: pass --prompt-file with a JSON array of ids"));
        }
        if args.tokens_only && args.tokenizer.is_some() {
            return Err(usage("--tokens-only uses no tokenizer: drop --tokenizer"));
        }
        let stop = match (args.stop.is_empty(), args.stop_token.is_empty()) {
            (false, false) => return Err(usage("give either --stop or --stop-token, not both")),
            (false, true) => Some(StopCondition::Strings(args.stop)),
            (true, false) => Some(StopCondition::Tokens(
                args.stop_token.iter().map(|t| t.0).collect(),
            )),
            (true, true) => None,
        };
        if args.stop_token.is_empty()
            && matches!(&stop, Some(StopCondition::Strings(s)) if s.iter().any(String::is_empty))
        {
            return Err(usage("--stop must not be empty"));
        }
        if args.quiet && args.verbose > 0 {
            return Err(usage("give either --quiet or --verbose, not both"));
        }
        if args
            .output
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(usage("--output is empty"));
        }
        // Batch workers each hold a connection: the pool is at least --parallel.
        let mode_pool = match &mode {
            Mode::Batch(batch) => Some(batch.parallel),
            Mode::Single(_) => None,
        };
        let defaults = SamplingParams::default();
        let params = SamplingParams {
            max_tokens: Some(args.max_tokens.map_or(DEFAULT_MAX_TOKENS, |m| m.0)),
            seed: args.seed,
            stop,
            temperature: args.temperature.map_or(defaults.temperature, |t| t.0),
            top_k: args.top_k.map_or(defaults.top_k, |k| k.0),
            top_p: args.top_p.map_or(defaults.top_p, |p| p.0),
        };
        Ok(RunConfig {
            base_model: args.base_model,
            model_path: args.model_path,
            mode,
            tokenizer: args.tokenizer,
            offline: args.offline,
            no_tokenizer_cache: args.no_tokenizer_cache,
            num_samples: args.num_samples.map_or(1, |n| n.0),
            params,
            prompt_logprobs: args.prompt_logprobs,
            topk_prompt_logprobs: args.topk_prompt_logprobs.unwrap_or(0),
            api_key: args.api_key,
            base_url: args.base_url,
            timeout: args.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
            http_pool: args
                .http_pool
                .map_or(DEFAULT_HTTP_POOL, |n| n.0 as usize)
                .max(match &mode_pool {
                    Some(parallel) => *parallel,
                    None => 0,
                }),
            output: OutputOptions {
                json: args.json,
                path: args.output,
                logprobs: args.logprobs,
                tokens_only: args.tokens_only,
            },
            verbosity: match (args.quiet, args.verbose) {
                (true, _) => Verbosity::Quiet,
                (false, 0) => Verbosity::Normal,
                (false, n) => Verbosity::Verbose(n),
            },
            chat,
            print_prompt: args.print_prompt,
        })
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
    ];
    let Some(input) = &args.input else {
        if let Some((flag, _)) = batch_only.iter().find(|(_, given)| *given) {
            return Err(usage(format!(
                "{flag} is for batch mode: it needs --input FILE"
            )));
        }
        return single_prompt(args).map(Mode::Single);
    };
    if args.prompt.is_some() || args.prompt_file.is_some() {
        return Err(usage(
            "--input takes its prompts from the file: drop --prompt/--prompt-file",
        ));
    }
    let input = match input.as_str() {
        "" => return Err(usage("--input is empty")),
        "-" => PromptSource::Stdin,
        path => PromptSource::File(PathBuf::from(path)),
    };
    Ok(Mode::Batch(BatchOptions {
        input,
        parallel: args.parallel.map_or(DEFAULT_PARALLEL, |p| p.0 as usize),
        resume: args.resume,
        fail_fast: args.fail_fast,
        progress: args.progress,
        batch_timeout: args.batch_timeout.map(|t| t.0),
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
        (Some(_), Some(_)) => Err(usage("give either --prompt or --prompt-file, not both")),
        (None, None) => Err(usage("no prompt given: pass --prompt TEXT or --prompt-file PATH ('-' for stdin), or --input FILE for a batch")),
        (Some(text), None) if text.is_empty() => Err(usage("--prompt is empty")),
        (Some(text), None) => Ok(PromptSource::Text(text.clone())),
        (None, Some(path)) if path == "-" => Ok(PromptSource::Stdin),
        (None, Some(path)) if path.is_empty() => Err(usage("--prompt-file is empty")),
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
mod tests {
    use super::*;
    use crate::cli::values::{TokenId, TopK};

    fn base() -> RunArgs {
        RunArgs {
            base_model: Some("Qwen/Qwen3-8B".into()),
            prompt: Some("Hello".into()),
            ..RunArgs::default()
        }
    }

    fn error(args: RunArgs) -> String {
        RunConfig::try_from(args).unwrap_err().to_string()
    }

    #[test]
    fn defaults_fill_the_wire_params() {
        let config = RunConfig::try_from(base()).unwrap();
        assert_eq!(config.params.max_tokens, Some(128));
        assert_eq!(config.params.top_k, -1);
        assert_eq!(config.params.temperature, 1.0);
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
        assert_eq!(config.num_samples, 1);
        assert_eq!(config.verbosity, Verbosity::Normal);
    }

    #[test]
    fn model_and_prompt_rules() {
        assert!(error(RunArgs {
            base_model: None,
            ..base()
        })
        .contains("--base-model"));
        assert!(error(RunArgs {
            model_path: Some("s3://x".into()),
            ..base()
        })
        .contains("tinker://"));
        assert!(error(RunArgs {
            prompt_file: Some("p.txt".into()),
            ..base()
        })
        .contains("not both"));
        assert!(error(RunArgs {
            prompt: None,
            ..base()
        })
        .contains("no prompt"));
        assert!(error(RunArgs {
            prompt: Some(String::new()),
            ..base()
        })
        .contains("--prompt is empty"));
        assert!(error(RunArgs {
            tokens_only: true,
            ..base()
        })
        .contains("--tokens-only"));
    }

    #[test]
    fn stop_rules() {
        let both = RunArgs {
            stop: vec!["x".into()],
            stop_token: vec![TokenId(1)],
            ..base()
        };
        assert!(error(both).contains("--stop or --stop-token"));
        let tokens = RunConfig::try_from(RunArgs {
            stop_token: vec![TokenId(5), TokenId(6)],
            ..base()
        })
        .unwrap();
        assert_eq!(tokens.params.stop, Some(StopCondition::Tokens(vec![5, 6])));
        assert!(error(RunArgs {
            stop: vec![String::new()],
            ..base()
        })
        .contains("--stop must not be empty"));
    }

    #[test]
    fn batch_flags_need_input_and_exclude_a_prompt() {
        assert!(error(RunArgs {
            resume: true,
            ..base()
        })
        .contains("--resume is for batch mode"));
        assert!(error(RunArgs {
            input: Some("in.jsonl".into()),
            ..base()
        })
        .contains("drop --prompt"));
        let config = RunConfig::try_from(RunArgs {
            prompt: None,
            input: Some("-".into()),
            parallel: Some(crate::cli::values::Concurrency(32)),
            ..base()
        })
        .unwrap();
        let Mode::Batch(batch) = &config.mode else {
            panic!("expected batch mode")
        };
        assert_eq!(
            (batch.input.clone(), batch.parallel),
            (PromptSource::Stdin, 32)
        );
        assert_eq!(config.http_pool, 32, "the pool grows to --parallel");
    }

    #[test]
    fn stdin_and_flags_carry_over() {
        let config = RunConfig::try_from(RunArgs {
            prompt: None,
            prompt_file: Some("-".into()),
            top_k: Some(TopK(40)),
            topk_prompt_logprobs: Some(3),
            ..base()
        })
        .unwrap();
        assert_eq!(config.mode, Mode::Single(Some(PromptSource::Stdin)));
        assert_eq!(config.params.top_k, 40);
        assert_eq!(config.topk_prompt_logprobs, 3);
        assert!(
            !config.prompt_logprobs,
            "the two wire fields stay independent"
        );
        assert!(error(RunArgs {
            quiet: true,
            verbose: 1,
            ..base()
        })
        .contains("--quiet"));
    }
}
