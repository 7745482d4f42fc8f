//! `tinkex auth status`'s flags as argh sees them.

use argh::FromArgs;

use crate::cli::flags::command_args;

#[derive(FromArgs, Debug)]
/// Credentials: check the one in use.
#[argh(subcommand, name = "auth")]
pub struct Args {
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

command_args! {
#[derive(FromArgs, Debug)]
/// Check that the credential works: one request, not retried; says where the credential came from.
#[argh(
    subcommand,
    name = "status",
    example = "$ tinkex auth status",
    note = "Exit 0 when the server accepts the credential; 3 when none is found, it is refused, or billing is not set up (HTTP 402); 4 when the server cannot be reached."
)]
pub struct AuthStatus {
    shared read_connection,
}
groups(connection, verbosity)
}
