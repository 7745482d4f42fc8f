//! `tinkex checkpoint download`'s flags as argh sees them.

use argh::FromArgs;

use crate::cli::flags::command_args;

command_args! {
#[derive(FromArgs, Debug)]
/// Download a checkpoint's files into DIR/<path without tinker://, '/' as '_'>, atomically.
#[argh(
    subcommand,
    name = "download",
    example = "Sampler weights into ./adapters, for vLLM or SGLang:\n  $ tinkex checkpoint download tinker://RUN/sampler_weights/final -o adapters",
    example = "In a script (stdout is the destination):\n  $ dest=$(tinkex checkpoint download tinker://RUN/external_weights/final --force -q)",
    note = "Files go into a hidden directory beside the destination, moved into place only when complete; on any failure or signal nothing is left.",
    note = "A weights/ checkpoint is exported first: that starts a (billed) training session, finished when the download ends.",
    note = "A broken or stalled transfer resumes where it stopped, within --timeout (default 14400 s = 4 h, for multi-GB files)."
)]
pub struct Args {
    /// the checkpoint's tinker:// path (weights, sampler_weights or external_weights)
    #[argh(positional)]
    pub tinker_path: String,
    /// the directory the destination goes into (default: the current directory)
    #[argh(option, short = 'o')]
    pub output_dir: Option<std::path::PathBuf>,
    /// replace an existing destination (the old one stays until the new one is complete)
    #[argh(switch)]
    pub force: bool,
    /// print {"checkpoint_path", "destination", "file_size_bytes"} instead of the destination
    shared json,
    /// the Tinker API key (default: TINKER_API_KEY); prefer the variable, flags show in `ps`
    shared api_key,
    /// the Tinker API base URL (default: TINKER_BASE_URL, else the production service)
    shared base_url,
    /// deadline for the whole download, in seconds (default: 14400, 4 hours, for multi-GB files)
    shared timeout,
    /// print nothing on stderr but errors
    shared quiet,
    /// more detail on stderr: -v requests, -vv debug, -vvv trace
    shared verbose,
}
groups(verbosity)
}
