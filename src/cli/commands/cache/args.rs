//! `tinkex cache [clear]`'s flags as argh sees them.

use argh::FromArgs;

#[derive(FromArgs, Debug, PartialEq, Eq)]
/// Show the tokenizer cache: its directory, entries (source, size, last use) and total.
#[argh(
    subcommand,
    name = "cache",
    example = "One entry a line (size, last use, source), then the total:\n  $ tinkex cache",
    example = "The same as one JSON document:\n  $ tinkex cache --json",
    example = "Empty it:\n  $ tinkex cache clear",
    note = "The cache lives in $XDG_CACHE_HOME/tinkex/tokenizers (else ~/.cache/tinkex/tokenizers). TINKEX_CACHE_MAX_BYTES caps its size (default 1G; 0 = unlimited): least recently used entries are evicted after each write."
)]
pub struct Args {
    /// print the listing as one JSON document ({"dir", "cap_bytes", "entries", "total_bytes"})
    #[argh(switch)]
    pub json: bool,
    #[argh(subcommand)]
    /// what to do (default: list)
    pub action: Option<CacheAction>,
}

#[derive(FromArgs, Debug, PartialEq, Eq)]
#[argh(subcommand)]
/// `tinkex cache` actions.
pub enum CacheAction {
    /// `tinkex cache clear`
    Clear(ClearArgs),
}

#[derive(FromArgs, Debug, PartialEq, Eq)]
/// Remove every entry of the tokenizer cache (the Hugging Face cache is left alone).
#[argh(subcommand, name = "clear")]
pub struct ClearArgs {}
