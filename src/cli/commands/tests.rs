//! Parsing the command line: the pre-pass, the list of commands, and the read commands'
//! and merge's validation.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::cli::catalog::{Action, ReadCommand};
use crate::cli::flags::values::{MaxTokens, TokenId, TopK};
use crate::cli::settings::Verbosity;

fn argv(args: &[&str]) -> Vec<String> {
    std::iter::once("tinkex")
        .chain(args.iter().copied())
        .map(String::from)
        .collect()
}

fn run_args(args: &[&str]) -> run::Args {
    match parse(&argv(args)) {
        Ok(Command::Run(run)) => *run,
        other => panic!("expected a run command, got {other:?}"),
    }
}

fn usage_error(args: &[&str]) -> String {
    match parse(&argv(args)) {
        Err(Stop::Usage(output)) => output.to_string(),
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
        Ok(Command::Merge(merge)) => {
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
        Ok(Command::Score(score)) => assert_eq!(score.context.as_deref(), Some("hi")),
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
    assert!(matches!(
        parse(&argv(&["--version"])),
        Ok(Command::Version(_))
    ));
    assert!(matches!(
        parse(&argv(&["version"])),
        Ok(Command::Version(_))
    ));
    match parse(&argv(&["run", "--help"])) {
        Err(Stop::Help(output)) => {
            assert!(output.contains("--max-tokens"));
            assert!(output.contains("default: 128"));
            assert!(output.contains("default: 600"));
            assert!(output.contains("tinkex run --base-model"));
        }
        other => panic!("expected help, got {other:?}"),
    }
    assert!(matches!(parse(&argv(&[])), Err(Stop::Usage(_))));
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
        Err(Stop::Help(text)) => text,
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

/// Every command's flags as `normalize` reads them from argh's usage line: a switch never
/// takes the next argument, an option always does, and every command's help is grouped.
#[test]
fn every_command_knows_its_switches_and_options() {
    let commands: &[&[&str]] = &[
        &[],
        &["merge"],
        &["score"],
        &["version"],
        &["cache"],
        &["prefetch"],
        &["model", "list"],
        &["checkpoint", "list"],
        &["training-run", "list"],
        &["auth", "status"],
    ];
    for path in commands {
        let spec = prepass::Spec::from_help(&prepass::help_at::<TopLevel>(path));
        for switch in ["--help", "--json", "--allow-missing", "--per-token", "-q"] {
            assert!(
                !spec.options.iter().any(|o| o == switch),
                "{switch} of {path:?}"
            );
        }
        for option in [
            "--api-key",
            "--limit",
            "--input",
            "--base-model",
            "--context",
        ] {
            if spec.flags.iter().any(|f| f == option) {
                assert!(
                    spec.options.iter().any(|o| o == option),
                    "{option} of {path:?}"
                );
            }
        }
        let mut asked: Vec<&str> = path.to_vec();
        asked.push("-h");
        let text = match parse(&argv(&asked)) {
            Err(Stop::Help(text)) => text,
            other => panic!("expected help for {path:?}, got {other:?}"),
        };
        assert!(text.contains("[OPTIONS]"), "{path:?}: {text}");
        assert!(text.contains("\nHelp:\n  -h, --help"), "{path:?}: {text}");
    }
}

fn command(args: &[&str]) -> Result<ReadCommand> {
    let argv: Vec<String> = std::iter::once("tinkex")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    match parse(&argv) {
        Ok(Command::Model(a)) => model::Config::try_from(a),
        Ok(Command::Checkpoint(a)) => match checkpoint::Config::try_from(a)? {
            checkpoint::Config::Read(read) => Ok(read),
            other => panic!("expected a read command, got {other:?}"),
        },
        Ok(Command::TrainingRun(a)) => training_run::Config::try_from(a),
        Ok(Command::Auth(a)) => auth::Config::try_from(a),
        other => panic!("expected a read command, got {other:?}"),
    }
}

#[test]
fn limits_default_to_20_and_0_means_all() {
    let c = command(&["checkpoint", "list"]).unwrap();
    assert_eq!(c.action, Action::Checkpoints { limit: Some(20) });
    let c = command(&["training-run", "list", "--limit=0", "--json"]).unwrap();
    assert_eq!(c.action, Action::Runs { limit: None });
    assert!(c.json);
    let c = command(&["checkpoint", "list", "--run-id", "r", "--limit", "5"]).unwrap();
    assert_eq!(c.action, Action::RunCheckpoints { run_id: "r".into() });
}

#[test]
fn connection_flags_and_their_checks() {
    let c = command(&["auth", "status", "--timeout", "3", "-vv"]).unwrap();
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.verbosity, Verbosity::Verbose(2));
    let err = command(&["model", "list", "-q", "-v"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.hint().unwrap().contains("tinkex model list --help"));
    let err = command(&["training-run", "info", ""]).unwrap_err();
    assert!(err.to_string().contains("the run id is empty"), "{err}");
    let err = command(&["checkpoint", "info", "tinker://r/model/x"]).unwrap_err();
    assert!(err.to_string().contains("invalid checkpoint path"), "{err}");
}

/// `-q -v` is refused the same way by every command that takes both.
#[test]
fn quiet_and_verbose_are_refused_by_every_command() {
    let message = "give either --quiet or --verbose, not both";
    let refused = |args: &[&str]| match parse(&argv(args)) {
        Ok(command) => dispatch_config(command).unwrap_err(),
        Err(_) => panic!("{args:?} did not parse"),
    };
    for args in [
        &["run", "--base-model", "m", "--prompt", "p", "-q", "-v"][..],
        &[
            "score",
            "--base-model",
            "m",
            "--context",
            "c",
            "--continuation",
            "d",
            "-q",
            "-v",
        ],
        &["merge", "--input", "in.jsonl", "a.jsonl", "-q", "-v"],
        &["model", "list", "-q", "-vv"],
        &["auth", "status", "-q", "-v"],
    ] {
        let error = refused(args);
        assert_eq!(error.exit_code(), 2, "{args:?}");
        assert!(error.to_string().contains(message), "{args:?}: {error}");
    }
}

/// Validates a parsed command without executing it.
fn dispatch_config(command: Command) -> crate::error::Result<()> {
    match command {
        Command::Run(a) => run::Config::try_from(*a).map(drop),
        Command::Score(a) => score::Config::try_from(*a).map(drop),
        Command::Merge(a) => merge::Config::try_from(a).map(drop),
        Command::Model(a) => model::Config::try_from(a).map(drop),
        Command::Auth(a) => auth::Config::try_from(a).map(drop),
        other => panic!("not covered: {other:?}"),
    }
}
