//! `tinkex auth …`: a read command, fetched by the client's catalog.

mod args;
mod config;
mod exec;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
