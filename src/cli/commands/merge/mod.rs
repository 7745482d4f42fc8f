//! `tinkex merge`: a sharded batch's journals merged into one, in input order.

mod args;
mod config;
mod exec;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
