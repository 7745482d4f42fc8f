//! tinkex: a synchronous client for the Tinker sampling API, as a library and a CLI.
//!
//! The client layer ([`client`]) speaks the wire protocol; the tokenizer layer
//! ([`tokenizer`]) turns text into token ids and back; the CLI layer ([`cli`])
//! owns flags and output. Dependencies point one way: `cli` → `client`, `tokenizer`.

pub mod atomic;
pub mod bounded;
pub mod chat;
pub mod cleanup;
pub mod cli;
pub mod client;
pub mod deadline;
pub mod download;
pub mod error;
pub mod image;
pub mod pipeline;
pub mod redact;
pub mod repo_files;
pub mod tokenizer;

pub use deadline::Deadline;
pub use error::{Category, Error, Result};

/// The crate version, sent in `User-Agent` and printed by `tinkex version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
