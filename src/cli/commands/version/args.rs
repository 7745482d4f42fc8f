//! `tinkex version`'s flags as argh sees them.

use argh::FromArgs;

#[derive(FromArgs, Debug, Default)]
/// Print the version and exit.
#[argh(
    subcommand,
    name = "version",
    example = "tinkex version",
    example = "Build facts for a bug report:\n  $ tinkex version --json"
)]
pub struct Args {
    /// print version, git commit, build target and glibc floor as one JSON object
    #[argh(switch)]
    pub json: bool,

    /// print version, git commit, build target and glibc floor as text
    #[argh(switch)]
    pub verbose: bool,
}
