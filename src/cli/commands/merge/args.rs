//! `tinkex merge`'s flags as argh sees them.

use std::path::PathBuf;

use argh::FromArgs;

use crate::cli::flags::command_args;

command_args! {
#[derive(FromArgs, Debug, Default)]
/// Merge the journals of a sharded batch (tinkex run --shard K/N) into one, in input order.
#[argh(
    subcommand,
    name = "merge",
    example = "Merge 8 shards' journals into what one unsharded run would have written:\n  $ tinkex merge --input prompts.jsonl --output results.jsonl out-*.jsonl",
    note = "Streams the journals (each in input order, given in any order) in constant memory. Refuses a line held twice (overlapping shards), a journal out of order, a record for a line the input lacks, a torn last line (run that shard again with --resume), and lines no journal holds (unless --allow-missing). Needs no API key. The exit code follows batch mode for the failed lines the journals hold.",
    error_code(0, "success"),
    error_code(2, "usage or input error (bad journals, missing lines)"),
    error_code(3, "a merged line failed with an auth error"),
    error_code(4, "a merged line failed with a server error"),
    error_code(5, "a merged line failed with a timeout")
)]
pub struct Args {
    /// the batch's input file (required): it says which lines must have a record
    #[argh(option)]
    pub input: Option<PathBuf>,

    /// write the merged journal to this file (atomically) instead of stdout
    shared output,

    /// merge what exists and list the missing line ranges, instead of refusing
    #[argh(switch)]
    pub allow_missing: bool,

    /// print nothing on stderr but errors
    shared quiet,

    /// more detail on stderr: -v info, -vv debug
    shared verbose,

    /// the shards' journals (--output files of tinkex run --shard), in any order
    #[argh(positional)]
    pub journals: Vec<PathBuf>,
}
groups(verbosity)
}
