//! `tinkex run`: sample from a base model or saved weights (one prompt, a batch, or the
//! prompt shown).

mod args;
mod config;
mod exec;
#[cfg(test)]
mod tests;

pub use args::Args;
pub use config::Config;
pub use exec::execute;
