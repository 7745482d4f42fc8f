//! `tinkex billing usage|checkpoint-storage`: what usage cost and what storage costs now.

mod args;
mod config;
mod exec;
mod table;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
