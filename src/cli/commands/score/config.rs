//! `tinkex score`'s flags validated into its [`Config`]: what to score is checked here, the
//! shared groups by the rules `run` uses (the context plays the prompt's part).

use super::args::Args;
use crate::cli::flags::groups::PromptFlags;
use crate::cli::score::{usage, Continuations, ScoreConfig, Target, MAX_CHOICES};
use crate::cli::settings::{Groups, Mode, RunConfig};
use crate::error::{Error, Result};

/// `tinkex score`, validated.
pub type Config = ScoreConfig;

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let target = target(&args)?;
        let per_token = args.per_token;
        let run = RunConfig::try_from(groups(args)).map_err(|e| match e {
            Error::Usage(message) => usage(message),
            other => other,
        })?;
        if matches!(target, Target::Batch) != matches!(run.mode, Mode::Batch(_)) {
            return Err(Error::Unexpected("score mode and run mode disagree".into()));
        }
        Ok(Config {
            run,
            target,
            per_token,
        })
    }
}

/// Decides what is scored and refuses the combinations that make no sense.
fn target(args: &Args) -> Result<Target> {
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
fn check_texts(args: &Args) -> Result<()> {
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

/// The shared groups as `run` validates them; the context stands in for its prompt, and the
/// sampling and rendering groups keep their defaults (score sends neither).
fn groups(args: Args) -> Groups {
    let prompt_file = args.prompt_file.clone().or_else(|| {
        args.context_tokens
            .as_ref()
            .map(|p| p.display().to_string())
    });
    Groups {
        model: args.model(),
        prompt: PromptFlags {
            prompt: args.context.clone(),
            prompt_file,
        },
        tokenizer: args.tokenizer(),
        batch: args.batch(),
        chat: args.chat(),
        connection: args.connection(),
        pool: args.pool(),
        output: args.output(),
        verbosity: args.verbosity(),
        session: args.session(),
        ..Groups::default()
    }
}
