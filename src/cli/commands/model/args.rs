//! `tinkex model list`'s flags as argh sees them.

use argh::FromArgs;

use crate::cli::flags::command_args;

#[derive(FromArgs, Debug)]
/// Models the server offers.
#[argh(subcommand, name = "model")]
pub struct Args {
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

command_args! {
#[derive(FromArgs, Debug)]
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
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}
