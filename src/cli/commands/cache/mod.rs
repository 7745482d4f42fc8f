//! `tinkex cache [clear]`: list or empty the tokenizer cache.

mod args;
mod config;
mod exec;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
