//! `tinkex checkpoint download`: a checkpoint's files into a directory, atomically.

pub(super) mod args;
mod config;
mod exec;
mod progress;

pub use config::Config;
pub use exec::execute;
