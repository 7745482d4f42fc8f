//! The command line as argh sees it: a dumb struct per command, plus the pre-pass argh lacks.

use std::path::PathBuf;

use argh::FromArgs;

pub use super::batch::merge_cmd::MergeArgs;
use super::batch::shard::ShardSpec;
use super::catalog::args::{AuthArgs, CheckpointArgs, ModelArgs, ReadArgs, TrainingRunArgs};
use super::help;
use super::suggest;
use super::values::{
    Concurrency, MaxTokens, Positive, Temperature, TimeoutSecs, TokenId, TopK, TopP,
};

#[derive(FromArgs, Debug)]
/// A fast, synchronous command-line client for the Tinker sampling API.
#[argh(
    example = "tinkex run --base-model Qwen/Qwen3-8B --prompt \"Hello\" --max-tokens 64",
    note = "Run 'tinkex run --help' for the sampling flags, exit codes and environment variables."
)]
pub struct TopLevel {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// The subcommands.
pub enum Command {
    /// `tinkex run`
    Run(Box<RunArgs>),
    /// `tinkex version`
    Version(VersionArgs),
    /// `tinkex score`
    Score(Box<super::score::ScoreArgs>),
    /// `tinkex model …`
    Model(ModelArgs),
    /// `tinkex checkpoint …`
    Checkpoint(CheckpointArgs),
    /// `tinkex training-run …`
    TrainingRun(TrainingRunArgs),
    /// `tinkex auth …`
    Auth(AuthArgs),
    /// `tinkex cache`
    Cache(super::tokenizers::CacheArgs),
    /// `tinkex prefetch`
    Prefetch(super::tokenizers::PrefetchArgs),
    /// `tinkex merge`
    Merge(MergeArgs),
}

#[derive(FromArgs, Debug, Default)]
/// Print the version and exit.
#[argh(
    subcommand,
    name = "version",
    example = "tinkex version",
    example = "Build facts for a bug report:\n  $ tinkex version --json"
)]
pub struct VersionArgs {
    /// print version, git commit, build target and glibc floor as one JSON object
    #[argh(switch)]
    pub json: bool,

    /// print version, git commit, build target and glibc floor as text
    #[argh(switch)]
    pub verbose: bool,
}

#[derive(FromArgs, Debug, Default)]
/// Sample from a base model or saved weights and print the result.
#[argh(
    subcommand,
    name = "run",
    example = "Sample from a base model:\n  $ tinkex run --base-model Qwen/Qwen3-8B --prompt \"Hello\" --max-tokens 64",
    example = "Three samples as JSON, written atomically to a file:\n  $ tinkex run --base-model Qwen/Qwen3-8B --prompt-file prompt.txt --num-samples 3 --json --output out.json",
    example = "A batch of prompts, 32 at a time, resumable after an interruption:\n  $ tinkex run --base-model Qwen/Qwen3-8B --input prompts.jsonl --output results.jsonl --parallel 32 --resume",
    example = "Saved weights, a token-id prompt from stdin, no tokenizer:\n  $ echo '[9707, 11]' | tinkex run --model-path tinker://RUN/sampler_weights/final --base-model Qwen/Qwen3-8B --prompt-file - --tokens-only",
    example = "Chat with an instruct model in its own format, thinking off:\n  $ tinkex run --base-model Qwen/Qwen3-8B --chat --no-think --system \"Be brief.\" --prompt \"Write a haiku\"",
    example = "Show the chat prompt and its token count, without sampling (no API key needed):\n  $ tinkex run --base-model Qwen/Qwen3-8B --messages chat.json --print-prompt",
    note = "The credential comes from --api-key, else TINKER_API_KEY, else the output of TINKER_CREDENTIAL_CMD (a shell command, run for each token exchange), else the default key 'tinker auth login' stored in ~/.tinker/credentials.json. The base URL from --base-url, else TINKER_BASE_URL. Progress and errors go to stderr; stdout holds only the samples. RUST_LOG overrides -q/-v. TINKEX_RETRY_SCALE multiplies every retry back-off (0 = retry at once).",
    error_code(0, "success"),
    error_code(1, "unexpected failure"),
    error_code(
        2,
        "usage or input error (bad flag, prompt, tokenizer; request refused as invalid)"
    ),
    error_code(3, "authentication or permission error"),
    error_code(4, "server or network failure after retries"),
    error_code(5, "timeout (--timeout passed)")
)]
pub struct RunArgs {
    /// base model to sample from, e.g. Qwen/Qwen3-8B
    #[argh(option)]
    pub base_model: Option<String>,

    /// saved weights to sample from: a tinker://… path
    #[argh(option)]
    pub model_path: Option<String>,

    /// the prompt text
    #[argh(option)]
    pub prompt: Option<String>,

    /// read the prompt from a file ('-' = stdin): text, a JSON array of token ids, or {"tokens": [...]}
    #[argh(option)]
    pub prompt_file: Option<String>,

    /// tokenizer to use: a tokenizer.json file, a directory holding one, or a Hugging Face repo id
    #[argh(option)]
    pub tokenizer: Option<String>,

    /// never touch the network for the tokenizer (as HF_HUB_OFFLINE=1)
    #[argh(switch)]
    pub offline: bool,

    /// do not use or write tinkex's tokenizer cache (~/.cache/tinkex/tokenizers)
    #[argh(switch)]
    pub no_tokenizer_cache: bool,

    /// most tokens per sample, at least 1 (default: 128)
    #[argh(option)]
    pub max_tokens: Option<MaxTokens>,

    /// sampling temperature, a finite number ≥ 0 (default: 1.0)
    #[argh(option)]
    pub temperature: Option<Temperature>,

    /// sample among the K likeliest tokens: -1 = off (default), or ≥ 1
    #[argh(option)]
    pub top_k: Option<TopK>,

    /// nucleus sampling: 0 < P ≤ 1 (default: 1.0)
    #[argh(option)]
    pub top_p: Option<TopP>,

    /// how many samples to draw, at least 1 (default: 1)
    #[argh(option)]
    pub num_samples: Option<Positive>,

    /// random seed, for reproducible samples
    #[argh(option)]
    pub seed: Option<i64>,

    /// stop when this string is generated (repeatable)
    #[argh(option)]
    pub stop: Vec<String>,

    /// stop when this token id is generated (repeatable; not with --stop)
    #[argh(option)]
    pub stop_token: Vec<TokenId>,

    /// also return the prompt's per-token logprobs
    #[argh(switch)]
    pub prompt_logprobs: bool,

    /// also return the K most likely tokens at each prompt position
    #[argh(option)]
    pub topk_prompt_logprobs: Option<u32>,

    /// also return the K most likely tokens at each sampled position (JSON "topk_logprobs"; with --logprobs, "alt" lines)
    #[argh(option)]
    pub topk_logprobs: Option<Positive>,

    /// batch mode: a JSONL file of prompts ('-' = stdin), one JSON object per line
    #[argh(option)]
    pub input: Option<String>,

    /// batch mode: prompts sampled at once, 1 to 1024 (default: 8)
    #[argh(option)]
    pub parallel: Option<Concurrency>,

    /// batch mode: continue an interrupted --output journal, retrying failed lines
    #[argh(switch)]
    pub resume: bool,

    /// batch mode: sample only shard K of N (K is 1-based: 1/N … N/N), the input lines whose number ≡ K (mod N); 'auto' reads a Slurm, AWS Batch, Cloud Run or Kubernetes job array's variables
    #[argh(option)]
    pub shard: Option<ShardSpec>,

    /// batch mode: stop at the first failed prompt
    #[argh(switch)]
    pub fail_fast: bool,

    /// batch mode: print progress to stderr even when it is not a terminal
    #[argh(switch)]
    pub progress: bool,

    /// batch mode: deadline for the whole batch, in seconds (default: none)
    #[argh(option)]
    pub batch_timeout: Option<TimeoutSecs>,

    /// chat mode: send the prompt as a user message in the model's chat format
    #[argh(switch)]
    pub chat: bool,

    /// chat mode: a system message to put first (implies --chat)
    #[argh(option)]
    pub system: Option<String>,

    /// chat mode: a JSON array of {"role", "content"} messages ('-' = stdin); a prompt is appended as the last user message
    #[argh(option)]
    pub messages: Option<String>,

    /// chat mode: render with this Jinja template instead of the model's
    #[argh(option)]
    pub chat_template: Option<PathBuf>,

    /// chat mode: a template variable as KEY=JSON, e.g. enable_thinking=false (repeatable)
    #[argh(option)]
    pub template_arg: Vec<String>,

    /// chat mode: turn the model's thinking on (Qwen3, Qwen3.5, Nemotron, DeepSeek-V3.1)
    #[argh(switch)]
    pub think: bool,

    /// chat mode: turn the model's thinking off (Qwen3, Qwen3.5, Nemotron, DeepSeek-V3.1)
    #[argh(switch)]
    pub no_think: bool,

    /// chat mode: role_colon, llama3, gpt_oss_no_sysprompt, or hf (the model's own template); default: by model
    #[argh(option)]
    pub renderer: Option<String>,

    /// print the prompt as it would be sent (text, then its token count) and exit; needs no API key
    #[argh(switch)]
    pub print_prompt: bool,

    /// the Tinker API key (default: TINKER_API_KEY); prefer the variable, flags show in `ps`
    #[argh(option)]
    pub api_key: Option<String>,

    /// the Tinker API base URL (default: TINKER_BASE_URL, else the production service)
    #[argh(option)]
    pub base_url: Option<String>,

    /// deadline for the whole run, in seconds (default: 600)
    #[argh(option)]
    pub timeout: Option<TimeoutSecs>,

    /// HTTP connections to keep open, 1 to 1024 (default: 8)
    #[argh(option)]
    pub http_pool: Option<Concurrency>,

    /// print one JSON document instead of plain text (batch output is always JSON lines: there --json is accepted and changes nothing)
    #[argh(switch)]
    pub json: bool,

    /// write the output to this file (atomically) instead of stdout
    #[argh(option)]
    pub output: Option<PathBuf>,

    /// print per-token logprobs after each sample's text
    #[argh(switch)]
    pub logprobs: bool,

    /// no tokenizer: the prompt must be token ids; print sampled ids, not text
    #[argh(switch)]
    pub tokens_only: bool,

    /// print nothing on stderr but errors
    #[argh(switch, short = 'q')]
    pub quiet: bool,

    /// more detail on stderr: -v requests, -vv debug, -vvv trace
    #[argh(switch, short = 'v')]
    pub verbose: u8,
}

/// What parsing decided: a command to run, help to print, or a usage error.
#[derive(Debug)]
pub enum Parsed {
    /// `tinkex run …`
    Run(Box<RunArgs>),
    /// `tinkex version` or `tinkex --version`
    Version(VersionArgs),
    /// `tinkex cache` or `tinkex prefetch`: the tokenizer commands.
    Tokenizers(super::tokenizers::Command),
    /// `tinkex merge …`
    Merge(Box<MergeArgs>),
    /// `tinkex score …`
    Score(Box<super::score::ScoreArgs>),
    /// A read command: `model`, `checkpoint`, `training-run`, `auth`.
    Read(Box<ReadArgs>),
    /// `--help`: the text for stdout (exit 0).
    Help(String),
    /// A usage error (exit 2), with a suggestion when a flag or command was mistyped.
    Usage(crate::error::Error),
}

/// Parses the full argv (program name first).
pub fn parse(argv: &[String]) -> Parsed {
    let program = "tinkex";
    let args = normalize(argv.get(1..).unwrap_or_default());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if args.first() == Some(&"run") && args.contains(&"--help") {
        return Parsed::Help(run_help());
    }
    match TopLevel::from_args(&[program], &args) {
        Ok(TopLevel {
            command: Some(Command::Run(run)),
            ..
        }) => Parsed::Run(run),
        Ok(TopLevel {
            command: Some(Command::Version(version)),
            ..
        }) => Parsed::Version(version),
        Ok(TopLevel {
            command: Some(command),
            ..
        }) => match command {
            Command::Model(a) => Parsed::Read(Box::new(ReadArgs::Model(a))),
            Command::Checkpoint(a) => Parsed::Read(Box::new(ReadArgs::Checkpoint(a))),
            Command::TrainingRun(a) => Parsed::Read(Box::new(ReadArgs::TrainingRun(a))),
            Command::Auth(a) => Parsed::Read(Box::new(ReadArgs::Auth(a))),
            Command::Run(run) => Parsed::Run(run),
            Command::Version(version) => Parsed::Version(version),
            Command::Score(score) => Parsed::Score(score),
            Command::Cache(a) => Parsed::Tokenizers(super::tokenizers::Command::Cache(a)),
            Command::Prefetch(a) => Parsed::Tokenizers(super::tokenizers::Command::Prefetch(a)),
            Command::Merge(merge) => Parsed::Merge(Box::new(merge)),
        },
        Ok(TopLevel {
            version: true,
            command: None,
        }) => Parsed::Version(VersionArgs::default()),
        Ok(TopLevel {
            version: false,
            command: None,
        }) => Parsed::Usage(crate::error::Error::usage(
            "no command given (tinkex run … samples; tinkex version prints the version)",
        )),
        Err(exit) => match exit.status {
            Ok(()) => Parsed::Help(exit.output),
            Err(()) => {
                let (flags, commands) = suggest::known_at(&args, help_at);
                Parsed::Usage(suggest::usage_error(&exit.output, &flags, &commands))
            }
        },
    }
}

/// `tinkex run --help`: argh's text for `run`, regrouped with value names.
fn run_help() -> String {
    help::run_help(&argh_run_help())
}

/// The help argh itself writes for `run` (its descriptions, examples, notes, exit codes).
fn argh_run_help() -> String {
    match RunArgs::from_args(&["tinkex", "run"], &["--help"]) {
        Err(exit) => exit.output,
        Ok(_) => String::new(),
    }
}

/// argh's help text for the command at `path` (empty when there is none).
fn help_at(path: &[&str]) -> String {
    let mut args = path.to_vec();
    args.push("--help");
    match TopLevel::from_args(&["tinkex"], &args) {
        Err(exit) => exit.output,
        Ok(_) => String::new(),
    }
}

/// Splits GNU-style `--flag=value` and expands `-vv`, leaving flag values untouched.
fn normalize(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut value_expected = false;
    let mut options_ended = false;
    for arg in args {
        if value_expected || options_ended {
            value_expected = false;
            out.push(arg.clone());
            continue;
        }
        if arg == "--" {
            options_ended = true;
            out.push(arg.clone());
        } else if arg == "-h" {
            // Every user types it; argh only knows `--help`.
            out.push("--help".into());
        } else if let Some((flag, value)) =
            arg.strip_prefix("--").and_then(|rest| rest.split_once('='))
        {
            out.push(format!("--{flag}"));
            out.push(value.to_string());
        } else if arg.len() > 2
            && arg.starts_with('-')
            && !arg.starts_with("--")
            && arg[1..].chars().all(|c| c == 'v')
        {
            out.extend(std::iter::repeat_n("-v".to_string(), arg.len() - 1));
        } else {
            value_expected = arg.starts_with("--") && !help::is_switch(arg);
            out.push(arg.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        std::iter::once("tinkex")
            .chain(args.iter().copied())
            .map(String::from)
            .collect()
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(&argv(args)) {
            Parsed::Run(run) => *run,
            other => panic!("expected a run command, got {other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        match parse(&argv(args)) {
            Parsed::Usage(output) => output.to_string(),
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn gnu_style_values_are_split_at_the_first_equals() {
        let run = run_args(&["run", "--top-k=-1", "--prompt=a=b", "--max-tokens=5"]);
        assert_eq!(run.top_k, Some(TopK(-1)));
        assert_eq!(run.prompt.as_deref(), Some("a=b"));
        assert_eq!(run.max_tokens, Some(MaxTokens(5)));
    }

    #[test]
    fn a_value_that_looks_like_a_flag_is_left_alone() {
        let run = run_args(&["run", "--prompt", "--x=1", "--top-k", "-1"]);
        assert_eq!(run.prompt.as_deref(), Some("--x=1"));
        assert_eq!(run.top_k, Some(TopK(-1)));
    }

    #[test]
    fn every_switch_takes_no_value() {
        let switches = help::all_run_flags().filter(|f| f.value.is_none());
        for switch in switches.map(|f| f.name) {
            let run = run_args(&["run", switch, "--prompt=hi"]);
            assert_eq!(
                run.prompt.as_deref(),
                Some("hi"),
                "{switch} swallowed the next argument"
            );
        }
    }

    #[test]
    fn merge_takes_its_input_journals_and_switches() {
        let args = [
            "merge",
            "--input=in.jsonl",
            "a.jsonl",
            "--allow-missing",
            "b.jsonl",
            "-q",
        ];
        match parse(&argv(&args)) {
            Parsed::Merge(merge) => {
                assert_eq!(merge.input, Some(PathBuf::from("in.jsonl")));
                assert_eq!(
                    merge.journals,
                    [PathBuf::from("a.jsonl"), PathBuf::from("b.jsonl")]
                );
                assert!(merge.allow_missing && merge.quiet);
            }
            other => panic!("expected merge, got {other:?}"),
        }
        let shard = run_args(&["run", "--shard=3/8"]).shard;
        assert_eq!(shard, "3/8".parse().ok());
        assert!(usage_error(&["run", "--shard", "9/8"]).contains("--shard"));
    }

    #[test]
    fn score_switches_take_no_value() {
        match parse(&argv(&["score", "--per-token", "--context=hi"])) {
            Parsed::Score(score) => assert_eq!(score.context.as_deref(), Some("hi")),
            other => panic!("expected a score command, got {other:?}"),
        }
    }

    #[test]
    fn verbosity_counts() {
        assert_eq!(run_args(&["run", "-vv"]).verbose, 2);
        assert_eq!(run_args(&["run", "-v", "--verbose"]).verbose, 2);
        assert!(run_args(&["run", "-q"]).quiet);
    }

    #[test]
    fn repeatable_flags_collect() {
        let run = run_args(&["run", "--stop", "a", "--stop=b", "--stop-token", "7"]);
        assert_eq!(run.stop, vec!["a", "b"]);
        assert_eq!(run.stop_token, vec![TokenId(7)]);
    }

    #[test]
    fn range_errors_name_the_flag() {
        let message = usage_error(&["run", "--temperature", "-1"]);
        assert!(message.contains("--temperature"), "{message}");
        assert!(message.contains("finite number ≥ 0"), "{message}");
        assert!(usage_error(&["run", "--top-p=0"]).contains("--top-p"));
        assert!(usage_error(&["run", "--bogus"]).contains("--bogus"));
    }

    #[test]
    fn version_and_help() {
        assert!(matches!(parse(&argv(&["--version"])), Parsed::Version(_)));
        assert!(matches!(parse(&argv(&["version"])), Parsed::Version(_)));
        match parse(&argv(&["run", "--help"])) {
            Parsed::Help(output) => {
                assert!(output.contains("--max-tokens"));
                assert!(output.contains("default: 128"));
                assert!(output.contains("default: 600"));
                assert!(output.contains("tinkex run --base-model"));
            }
            other => panic!("expected help, got {other:?}"),
        }
        assert!(matches!(parse(&argv(&[])), Parsed::Usage(_)));
    }

    /// The table the grouped help and `normalize` use holds exactly argh's flags for `run`,
    /// each a switch exactly when argh's usage line shows it without a value, and every
    /// one of them appears in `run --help`.
    #[test]
    fn the_flag_table_matches_argh_and_the_help() {
        let argh_text = argh_run_help();
        let usage = argh_text.lines().next().unwrap_or_default();
        let mut argh_flags: Vec<(String, bool)> = Vec::new();
        for group in usage.split('[').skip(1) {
            let group = group.split(']').next().unwrap_or_default();
            let (flag, switch) = match group.split_once(' ') {
                Some((flag, _)) => (flag, false),
                None => (group, true),
            };
            let flag = match flag {
                "-q" => "--quiet",
                "-v" => "--verbose",
                other => other,
            };
            argh_flags.push((flag.to_string(), switch));
        }
        let mut table: Vec<(String, bool)> = help::all_run_flags()
            .map(|f| (f.name.to_string(), f.value.is_none()))
            .collect();
        argh_flags.sort();
        table.sort();
        assert_eq!(table, argh_flags, "the help table and RunArgs differ");
        let text = match parse(&argv(&["run", "-h"])) {
            Parsed::Help(text) => text,
            other => panic!("expected help, got {other:?}"),
        };
        assert!(text.starts_with("Usage: tinkex run [OPTIONS]\n"), "{text}");
        for flag in help::all_run_flags() {
            let shown = match flag.value {
                Some(value) => format!("{} <{value}>", flag.name),
                None => flag.name.to_string(),
            };
            assert!(text.contains(&shown), "{shown} is missing from run --help");
        }
        for group in [
            "Model:",
            "Prompt:",
            "Sampling:",
            "Chat:",
            "Batch:",
            "Output:",
            "Connection:",
        ] {
            assert!(text.contains(&format!("\n{group}\n")), "{group}");
        }
    }

    /// Every switch of every command is one `normalize` knows takes no value.
    #[test]
    fn switches_of_other_commands_are_known() {
        for flag in ["--help", "--version", "--json", "--quiet", "--verbose"] {
            assert!(help::is_switch(flag), "{flag}");
        }
        assert!(!help::is_switch("--prompt"));
        let commands: &[&[&str]] = &[
            &["--help"],
            &["merge", "--help"],
            &["score", "--help"],
            &["version", "--help"],
            &["cache", "--help"],
            &["prefetch", "--help"],
            &["model", "list", "--help"],
            &["checkpoint", "list", "--help"],
            &["training-run", "list", "--help"],
            &["auth", "status", "--help"],
        ];
        for command in commands {
            let text = match parse(&argv(command)) {
                Parsed::Help(text) => text,
                other => panic!("expected help for {command:?}, got {other:?}"),
            };
            let usage = text.lines().next().unwrap_or_default();
            for group in usage.split('[').skip(1) {
                let group = group.split(']').next().unwrap_or_default();
                if group.starts_with("--") && group.len() > 2 && !group.contains(' ') {
                    assert!(
                        help::is_switch(group),
                        "{group} of {command:?} is not a known switch"
                    );
                }
            }
        }
    }
}
