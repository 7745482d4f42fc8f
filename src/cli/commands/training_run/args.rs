//! `tinkex training-run list|info`'s flags as argh sees them.

use argh::FromArgs;

use crate::cli::flags::command_args;

#[derive(FromArgs, Debug)]
/// Training runs: list them, or show one.
#[argh(subcommand, name = "training-run")]
pub struct Args {
    #[argh(subcommand)]
    pub command: TrainingRunCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// `tinkex training-run` subcommands.
pub enum TrainingRunCommand {
    /// `tinkex training-run list`
    List(TrainingRunList),
    /// `tinkex training-run info`
    Info(TrainingRunInfo),
}

command_args! {
#[derive(FromArgs, Debug)]
/// List your training runs: id, base model, owner, LoRA, last update, status, last checkpoint.
#[argh(
    subcommand,
    name = "list",
    example = "The 20 most recent runs:\n  $ tinkex training-run list",
    example = "Every run, as JSON:\n  $ tinkex training-run list --limit 0 --json"
)]
pub struct TrainingRunList {
    /// how many runs to list (default: 20; 0 = all)
    #[argh(option)]
    pub limit: Option<u64>,
    /// print one JSON document ({"runs": [...]}) instead of a table
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}

command_args! {
#[derive(FromArgs, Debug)]
/// Show one training run: model, LoRA, status, last checkpoints, metadata.
#[argh(
    subcommand,
    name = "info",
    example = "$ tinkex training-run info RUN --json"
)]
pub struct TrainingRunInfo {
    /// the training run's id
    #[argh(positional)]
    pub id: String,
    /// print the run as one JSON object instead of a table
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}
