//! `tinkex prefetch`: fill the tokenizer caches ahead of an offline run.

mod args;
mod config;
mod exec;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
