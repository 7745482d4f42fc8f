//! `tinkex checkpoint …`: read commands fetched by the client's catalog, and `download`.

mod args;
mod config;
mod download;
mod exec;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
