//! The command-line layer: flags, validation, logging and output; everything a user sees.

mod batch;
mod catalog;
mod commands;
mod conversation;
mod flags;
mod live;
mod logging;
mod output;
mod prepare;
mod prompt;
mod prompt_images;
mod run;
mod score;
mod session;
mod settings;
mod signals;
mod sink;
mod token_totals;
mod tokenize;
mod tokenizers;
mod units;

use std::panic::{self, AssertUnwindSafe};

use crate::redact;

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // A panic is a bug: report one line instead of Rust's dump, and exit 1.
    panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        eprintln!(
            "tinkex: error: internal error: {} (please report this)",
            redact::scrub(&message)
        );
    }));
    signals::install();
    // Any command may start a background tokenizer cache write: joined on every way out.
    let _cache_writes = crate::tokenizer::CacheWritesGuard::new();
    panic::catch_unwind(AssertUnwindSafe(|| commands::main(&argv))).unwrap_or(1)
}
