//! `tinkex billing usage|checkpoint-storage`'s flags as argh sees them.

use std::path::PathBuf;

use argh::FromArgs;

use crate::cli::flags::command_args;

#[derive(FromArgs, Debug)]
/// What usage cost, and what checkpoint storage costs (needs the admin or billing-admin role).
#[argh(subcommand, name = "billing")]
pub struct Args {
    #[argh(subcommand)]
    pub command: BillingCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
/// `tinkex billing` subcommands.
pub enum BillingCommand {
    /// `tinkex billing usage`
    Usage(BillingUsage),
    /// `tinkex billing checkpoint-storage`
    CheckpointStorage(BillingStorage),
}

command_args! {
#[derive(FromArgs, Debug)]
/// Usage and its estimated cost between two whole UTC hours: by model and kind, and total.
#[argh(
    subcommand,
    name = "usage",
    example = "$ tinkex billing usage 2026-07-13 2026-07-14",
    example = "The last 7 days, events and sessions as CSV:\n  $ tinkex billing usage --last 7d --csv usage.csv --sessions-csv sessions.csv",
    note = "START and END are RFC 3339 or YYYY-MM-DD (UTC) on whole hours, END after START, at most 14 days apart, START not in the future."
)]
pub struct BillingUsage {
    /// START (inclusive) and END (exclusive) of the window
    #[argh(positional, arg_name = "START END")]
    pub window: Vec<String>,
    /// instead of START END: the window ending at the current hour (24h, 7d; at most 14d)
    #[argh(option)]
    pub last: Option<String>,
    /// also write the hourly events to FILE as CSV (the official CLI's columns)
    #[argh(option)]
    pub csv: Option<PathBuf>,
    /// also write each session's user_metadata to FILE as CSV
    #[argh(option)]
    pub sessions_csv: Option<PathBuf>,
    /// print the official CLI's JSON document instead of the table
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}

command_args! {
#[derive(FromArgs, Debug)]
/// Checkpoint storage now, per project and user: count, size, estimated monthly cost.
#[argh(
    subcommand,
    name = "checkpoint-storage",
    example = "$ tinkex billing checkpoint-storage --project-id PROJECT"
)]
pub struct BillingStorage {
    /// only this project
    #[argh(option)]
    pub project_id: Option<String>,
    /// also write the rows to FILE as CSV (the official CLI's columns)
    #[argh(option)]
    pub csv: Option<PathBuf>,
    /// print the official CLI's JSON document instead of the table
    shared json,
    shared read_connection,
}
groups(connection, verbosity)
}
