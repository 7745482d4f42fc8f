//! `tinkex checkpoint list|info|publish|unpublish|set-ttl|delete`'s flags as argh sees them
//! (`download`'s are in its folder).

use argh::FromArgs;

use crate::cli::flags::command_args;

#[derive(FromArgs, Debug)]
/// Saved weights: list, show, publish, unpublish, set their TTL, delete, download.
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
    // The lifecycle (write) subcommands, kept together.
    /// `tinkex checkpoint publish`
    Publish(CheckpointPublish),
    /// `tinkex checkpoint unpublish`
    Unpublish(CheckpointUnpublish),
    /// `tinkex checkpoint set-ttl`
    SetTtl(CheckpointSetTtl),
    /// `tinkex checkpoint delete`
    Delete(CheckpointDelete),
    /// `tinkex checkpoint download`
    Download(super::download::args::Args),
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

command_args! {
#[derive(FromArgs, Debug)]
/// Make checkpoints public: anyone with the path can then load them.
#[argh(
    subcommand,
    name = "publish",
    example = "$ tinkex checkpoint publish tinker://RUN/sampler_weights/final",
    note = "A checkpoint that already is public is not an error (exit 0, one line)."
)]
pub struct CheckpointPublish {
    /// the checkpoints' tinker:// paths
    #[argh(positional)]
    pub paths: Vec<String>,
    /// print one JSON document ({"changed", "unchanged", "failed"}) on stdout
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}

command_args! {
#[derive(FromArgs, Debug)]
/// Make public checkpoints private again.
#[argh(
    subcommand,
    name = "unpublish",
    example = "$ tinkex checkpoint unpublish tinker://RUN/sampler_weights/final",
    note = "A checkpoint that already is private is not an error (exit 0, one line)."
)]
pub struct CheckpointUnpublish {
    /// the checkpoints' tinker:// paths
    #[argh(positional)]
    pub paths: Vec<String>,
    /// print one JSON document ({"changed", "unchanged", "failed"}) on stdout
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}

command_args! {
#[derive(FromArgs, Debug)]
/// Set when checkpoints expire (counted from now), or remove their expiry.
#[argh(
    subcommand,
    name = "set-ttl",
    example = "Keep the final checkpoint for 90 days:\n  $ tinkex checkpoint set-ttl tinker://RUN/sampler_weights/final --ttl 90d",
    example = "Keep it until deleted:\n  $ tinkex checkpoint set-ttl tinker://RUN/sampler_weights/final --remove",
    note = "DURATION is seconds or a number with s, m, h, d or w; the server takes 1h to 3650d."
)]
pub struct CheckpointSetTtl {
    /// the checkpoints' tinker:// paths
    #[argh(positional)]
    pub paths: Vec<String>,
    /// time to live from now: seconds, or 36h, 7d, 2w (1 hour to 3650 days)
    #[argh(option)]
    pub ttl: Option<String>,
    /// remove the expiry: keep the checkpoints until deleted
    #[argh(switch)]
    pub remove: bool,
    /// print one JSON document ({"changed", "unchanged", "failed"}) on stdout
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}

command_args! {
#[derive(FromArgs, Debug)]
/// Delete checkpoints (irreversible): the paths given, or a selection of one run's.
#[argh(
    subcommand,
    name = "delete",
    example = "See what would go, then delete all but the 3 newest sampler checkpoints of a run:\n  $ tinkex checkpoint delete --run-id RUN --type sampler_weights --keep-last 3 --dry-run\n  $ tinkex checkpoint delete --run-id RUN --type sampler_weights --keep-last 3 --yes",
    example = "$ tinkex checkpoint delete --yes tinker://RUN/weights/000100",
    note = "Without --yes or --dry-run, tinkex asks on a terminal and refuses otherwise (exit 2). TIME is RFC 3339 or YYYY-MM-DD, UTC."
)]
pub struct CheckpointDelete {
    /// the checkpoints' tinker:// paths (or select with --run-id)
    #[argh(positional)]
    pub paths: Vec<String>,
    /// select the checkpoints of this training run
    #[argh(option)]
    pub run_id: Option<String>,
    /// with --run-id: only this type (weights, sampler_weights, external_weights)
    #[argh(option, long = "type")]
    pub checkpoint_type: Option<String>,
    /// with --run-id: only checkpoints saved before TIME
    #[argh(option)]
    pub before: Option<String>,
    /// with --run-id: only checkpoints saved after TIME
    #[argh(option)]
    pub after: Option<String>,
    /// with --run-id: spare the N newest of the selection (ties in time are all spared)
    #[argh(option)]
    pub keep_last: Option<usize>,
    /// delete without asking
    #[argh(switch, short = 'y')]
    pub yes: bool,
    /// print what would be deleted (one path a line) and delete nothing
    #[argh(switch)]
    pub dry_run: bool,
    /// print one JSON document ({"deleted_count", "failed"}; with --dry-run {"would_delete"})
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}
