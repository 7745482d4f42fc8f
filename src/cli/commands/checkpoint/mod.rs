//! `tinkex checkpoint …`: the catalog reads (`list`, `info`), the lifecycle writes
//! (`publish`, `unpublish`, `set-ttl`, `delete`) and `download`.

mod args;
mod config;
mod download;
mod exec;
mod write;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
