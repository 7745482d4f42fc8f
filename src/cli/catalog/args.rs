//! The read commands as argh sees them: `model list`, `checkpoint list|info`,
//! `training-run list|info`, `auth status`, each with `run`'s connection flags.

use argh::FromArgs;

use crate::cli::values::TimeoutSecs;

/// Declares a leaf read command with `run`'s connection flags appended and [`Connect`]
/// implemented, so the five flags are written once (argh cannot flatten a shared struct).
macro_rules! leaf_command {
    (
        $(#[$($meta:tt)*])*
        pub struct $name:ident {
            $($fields:tt)*
        }
    ) => {
        #[derive(FromArgs, Debug)]
        $(#[$($meta)*])*
        pub struct $name {
            $($fields)*
            /// the Tinker API key (default: TINKER_API_KEY); prefer the variable, flags show in `ps`
            #[argh(option)]
            pub api_key: Option<String>,
            /// the Tinker API base URL (default: TINKER_BASE_URL, else the production service)
            #[argh(option)]
            pub base_url: Option<String>,
            /// deadline for the whole command, in seconds (default: 600)
            #[argh(option)]
            pub timeout: Option<TimeoutSecs>,
            /// print nothing on stderr but errors
            #[argh(switch, short = 'q')]
            pub quiet: bool,
            /// more detail on stderr: -v requests, -vv debug, -vvv trace
            #[argh(switch, short = 'v')]
            pub verbose: u8,
        }

        impl Connect for $name {
            fn connection(&self) -> ConnectionFlags {
                ConnectionFlags {
                    api_key: self.api_key.clone(),
                    base_url: self.base_url.clone(),
                    timeout: self.timeout,
                    quiet: self.quiet,
                    verbose: self.verbose,
                }
            }
        }
    };
}

/// Which read command was given (one variant per top-level word).
#[derive(Debug)]
pub enum ReadArgs {
    /// `tinkex model …`
    Model(ModelArgs),
    /// `tinkex checkpoint …`
    Checkpoint(CheckpointArgs),
    /// `tinkex training-run …`
    TrainingRun(TrainingRunArgs),
    /// `tinkex auth …`
    Auth(AuthArgs),
}

#[derive(FromArgs, Debug)]
/// Models the server offers.
#[argh(subcommand, name = "model")]
pub struct ModelArgs {
    #[argh(subcommand)]
    pub command: ModelCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// `tinkex model` subcommands.
pub enum ModelCommand {
    /// `tinkex model list`
    List(ModelList),
}

leaf_command! {
/// List the models to sample from or train: name, context length, trainable, sampleable.
#[argh(
    subcommand,
    name = "list",
    example = "Every model:\n  $ tinkex model list",
    example = "Models whose name contains 'qwen3' (any case), as JSON:\n  $ tinkex model list qwen3 --json",
    note = "Pass a name from the Model column as --base-model. A FILTER no name contains is an error (exit 2)."
)]
pub struct ModelList {
    /// keep only the models whose name contains FILTER, ignoring case
    #[argh(positional)]
    pub filter: Option<String>,
    /// print one JSON document ({"models": [...]}) instead of a table
    #[argh(switch)]
    pub json: bool,
}
}

#[derive(FromArgs, Debug)]
/// Saved weights: list them, or show one.
#[argh(subcommand, name = "checkpoint")]
pub struct CheckpointArgs {
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
    Info(CheckpointInfoArgs),
}

leaf_command! {
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
    #[argh(switch)]
    pub json: bool,
}
}

leaf_command! {
/// Show one checkpoint, with its run's LoRA settings.
#[argh(
    subcommand,
    name = "info",
    example = "$ tinkex checkpoint info tinker://RUN/sampler_weights/final",
    note = "The path is tinker://RUN/KIND/NAME with KIND weights, sampler_weights or external_weights."
)]
pub struct CheckpointInfoArgs {
    /// the checkpoint's tinker:// path
    #[argh(positional)]
    pub tinker_path: String,
    /// print the checkpoint as one JSON object instead of a table
    #[argh(switch)]
    pub json: bool,
}
}

#[derive(FromArgs, Debug)]
/// Training runs: list them, or show one.
#[argh(subcommand, name = "training-run")]
pub struct TrainingRunArgs {
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

leaf_command! {
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
    #[argh(switch)]
    pub json: bool,
}
}

leaf_command! {
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
    #[argh(switch)]
    pub json: bool,
}
}

#[derive(FromArgs, Debug)]
/// Credentials: check the one in use.
#[argh(subcommand, name = "auth")]
pub struct AuthArgs {
    #[argh(subcommand)]
    pub command: AuthCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// `tinkex auth` subcommands.
pub enum AuthCommand {
    /// `tinkex auth status`
    Status(AuthStatus),
}

leaf_command! {
/// Check that the credential works: one request, not retried; says where the credential came from.
#[argh(
    subcommand,
    name = "status",
    example = "$ tinkex auth status",
    note = "Exit 0 when the server accepts the credential; 3 when none is found, it is refused, or billing is not set up (HTTP 402); 4 when the server cannot be reached."
)]
pub struct AuthStatus {
}
}

/// The connection flags every read command repeats (argh has no flatten).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionFlags {
    /// `--api-key`
    pub api_key: Option<String>,
    /// `--base-url`
    pub base_url: Option<String>,
    /// `--timeout`
    pub timeout: Option<TimeoutSecs>,
    /// `-q`
    pub quiet: bool,
    /// `-v` count
    pub verbose: u8,
}

/// Copies the repeated connection fields of a leaf command into one [`ConnectionFlags`].
pub trait Connect {
    /// This command's connection flags.
    fn connection(&self) -> ConnectionFlags;
}
