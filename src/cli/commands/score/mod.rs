//! `tinkex score`: log P(continuation | context), multiple choice, a whole text's per-token
//! logprobs, or a batch of them.

mod args;
mod config;
mod exec;

pub use crate::cli::score::usage;
pub use args::Args;
pub use config::Config;
pub use exec::execute;
