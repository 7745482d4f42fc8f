//! `tinkex version`: the version alone, or with the build facts a bug report needs.

mod args;
mod config;
mod exec;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
