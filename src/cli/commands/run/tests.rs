//! `run`'s validation rules, checked on parsed flags.

use super::{Args, Config};
use crate::cli::flags::values::{TokenId, TopK};
use crate::cli::prompt::{PromptSource, Source};
use crate::cli::settings::*;
use crate::client::StopCondition;

fn base() -> Args {
    Args {
        base_model: Some("Qwen/Qwen3-8B".into()),
        prompt: Some("Hello".into()),
        ..Args::default()
    }
}

fn error(args: Args) -> String {
    Config::try_from(args).unwrap_err().to_string()
}

#[test]
fn defaults_fill_the_wire_params() {
    let config = Config::try_from(base()).unwrap();
    assert_eq!(config.params.max_tokens, Some(128));
    assert_eq!(config.params.top_k, -1);
    assert_eq!(config.params.temperature, 1.0);
    assert_eq!(config.timeout, DEFAULT_TIMEOUT);
    assert_eq!(config.num_samples, 1);
    assert_eq!(config.verbosity, Verbosity::Normal);
}

#[test]
fn model_and_prompt_rules() {
    assert!(error(Args {
        base_model: None,
        ..base()
    })
    .contains("--base-model"));
    assert!(error(Args {
        model_path: Some("s3://x".into()),
        ..base()
    })
    .contains("tinker://"));
    assert!(error(Args {
        prompt_file: Some("p.txt".into()),
        ..base()
    })
    .contains("not both"));
    assert!(error(Args {
        prompt: None,
        ..base()
    })
    .contains("no prompt"));
    assert!(error(Args {
        prompt: Some(String::new()),
        ..base()
    })
    .contains("--prompt is empty"));
    assert!(error(Args {
        tokens_only: true,
        ..base()
    })
    .contains("--tokens-only"));
}

#[test]
fn stop_rules() {
    let both = Args {
        stop: vec!["x".into()],
        stop_token: vec![TokenId(1)],
        ..base()
    };
    assert!(error(both).contains("--stop or --stop-token"));
    let tokens = Config::try_from(Args {
        stop_token: vec![TokenId(5), TokenId(6)],
        ..base()
    })
    .unwrap();
    assert_eq!(tokens.params.stop, Some(StopCondition::Tokens(vec![5, 6])));
    assert!(error(Args {
        stop: vec![String::new()],
        ..base()
    })
    .contains("--stop must not be empty"));
}

#[test]
fn batch_flags_need_input_and_exclude_a_prompt() {
    assert!(error(Args {
        resume: true,
        ..base()
    })
    .contains("--resume is for batch mode"));
    assert!(error(Args {
        input: Some("in.jsonl".into()),
        ..base()
    })
    .contains("drop --prompt"));
    let config = Config::try_from(Args {
        prompt: None,
        input: Some("-".into()),
        parallel: Some(crate::cli::flags::values::Concurrency(32)),
        ..base()
    })
    .unwrap();
    let Mode::Batch(batch) = &config.mode else {
        panic!("expected batch mode")
    };
    assert_eq!((batch.input.clone(), batch.parallel), (Source::Stdin, 32));
    assert_eq!(config.http_pool, 32, "the pool grows to --parallel");
}

#[test]
fn stdin_and_flags_carry_over() {
    let config = Config::try_from(Args {
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
    assert!(error(Args {
        quiet: true,
        verbose: 1,
        ..base()
    })
    .contains("--quiet"));
}

#[test]
fn session_flags_become_the_session_meta() {
    let config = Config::try_from(Args {
        session_name: Some("nightly".into()),
        meta: vec!["job=eval".into()],
        ..base()
    })
    .unwrap();
    assert_eq!(config.session.display_name.as_deref(), Some("nightly"));
    assert_eq!(
        config.session.user_metadata,
        [("job".to_string(), "eval".to_string())]
    );
    assert!(error(Args {
        meta: vec!["job".into()],
        ..base()
    })
    .contains("--meta expects KEY=VALUE"));
}
