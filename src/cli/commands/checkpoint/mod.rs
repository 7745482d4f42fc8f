//! `tinkex checkpoint …`: the catalog reads (`list`, `info`) and the lifecycle writes
//! (`publish`, `unpublish`, `set-ttl`, `delete`).

mod args;
mod config;
mod exec;
mod write;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
