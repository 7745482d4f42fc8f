//! `tinkex checkpoint list|info`'s flags as argh sees them (`download`'s are in its folder).

use argh::FromArgs;

use crate::cli::flags::command_args;

#[derive(FromArgs, Debug)]
/// Saved weights: list them, show one, or download one.
#[argh(subcommand, name = "checkpoint")]
pub struct Args {
    #[argh(subcommand)]
    pub command: CheckpointCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// `tinkex checkpoint` subcommands.
pub enum CheckpointCommand {
    /// `tinkex checkpoint list`
    List(CheckpointList),
    /// `tinkex checkpoint info`
    Info(CheckpointInfo),
    /// `tinkex checkpoint download`
    Download(super::download::Args),
}

command_args! {
#[derive(FromArgs, Debug)]
/// List checkpoints, newest runs first: id, type, size, public, created, tinker:// path.
#[argh(
    subcommand,
    name = "list",
    example = "The 20 most recent checkpoints of all your runs:\n  $ tinkex checkpoint list",
    example = "Every checkpoint of one run, as JSON:\n  $ tinkex checkpoint list --run-id RUN --json",
    example = "All checkpoints, one path per line:\n  $ tinkex checkpoint list --limit 0 --json | jq -r '.checkpoints[].tinker_path'",
    note = "Pass a path from the Path column as 'tinkex run --model-path'."
)]
pub struct CheckpointList {
    /// only this training run's checkpoints (all of them; --limit does not apply)
    #[argh(option)]
    pub run_id: Option<String>,
    /// how many checkpoints to list (default: 20; 0 = all)
    #[argh(option)]
    pub limit: Option<u64>,
    /// print one JSON document ({"checkpoints": [...]}) instead of a table
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}

command_args! {
#[derive(FromArgs, Debug)]
/// Show one checkpoint, with its run's LoRA settings.
#[argh(
    subcommand,
    name = "info",
    example = "$ tinkex checkpoint info tinker://RUN/sampler_weights/final",
    note = "The path is tinker://RUN/KIND/NAME with KIND weights, sampler_weights or external_weights."
)]
pub struct CheckpointInfo {
    /// the checkpoint's tinker:// path
    #[argh(positional)]
    pub tinker_path: String,
    /// print the checkpoint as one JSON object instead of a table
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}
