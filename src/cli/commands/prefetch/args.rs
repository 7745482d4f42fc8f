//! `tinkex prefetch`'s flags as argh sees them.

use argh::FromArgs;

use crate::cli::flags::command_args;

command_args! {
#[derive(FromArgs, Debug, PartialEq, Eq)]
/// Download models' tokenizer files into the Hugging Face cache and build their fast
/// cache entries, so that later runs (also `tinkex run --offline`) start warm.
#[argh(
    subcommand,
    name = "prefetch",
    example = "tinkex prefetch --base-model Qwen/Qwen3-8B",
    example = "In a Dockerfile:\n  RUN tinkex prefetch --base-model Qwen/Qwen3-8B --base-model meta-llama/Llama-3.1-8B",
    note = "Uses HF_ENDPOINT, HF_TOKEN, HF_HOME/HF_HUB_CACHE and XDG_CACHE_HOME as tinkex run does."
)]
pub struct Args {
    /// a base model whose tokenizer to fetch, e.g. Qwen/Qwen3-8B (repeatable)
    #[argh(option)]
    pub base_model: Vec<String>,

    /// also fetch this tokenizer: a hub repo id or a tokenizer.json path (repeatable)
    #[argh(option)]
    pub tokenizer: Vec<String>,

    /// print only errors
    shared quiet,
}
groups()
}
