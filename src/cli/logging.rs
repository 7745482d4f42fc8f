//! stderr logging: levels from -q/-v or RUST_LOG, one `tinkex:` prefix, secrets scrubbed,
//! control characters escaped; and the one-line error report every command ends with.

use log::{Level, LevelFilter, Log, Metadata, Record};

use super::settings::Verbosity;
use crate::redact;

pub use crate::client::STATUS_TARGET;

/// Wraps env_logger to drop raw wire dumps and mask secrets in every line.
struct ScrubbingLogger {
    inner: env_logger::Logger,
}

impl Log for ScrubbingLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        !is_wire_dump(metadata) && self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Log lines quote the server (ids, queue reasons): scrubbed, and control characters
        // escaped so no escape sequence reaches the terminal.
        let line = format_line(record);
        let line = redact::scrub(&line);
        let body = line.strip_suffix('\n').unwrap_or(&line);
        let line = format!("{}\n", redact::escape_controls(body));
        // A queue state goes into a running ticker's in-place line instead of a line of its own.
        if record.target() == STATUS_TARGET {
            if let Some(queue) = line
                .strip_prefix("tinkex: ")
                .filter(|l| l.starts_with("queue "))
            {
                if super::live::absorb_queue(queue.trim_end()) {
                    return;
                }
            }
        }
        super::live::print(&line);
    }

    fn flush(&self) {}
}

/// ureq-proto hex-dumps raw requests at trace level, headers included, split across lines
/// where no scrubber could find the key; those records never reach stderr.
fn is_wire_dump(metadata: &Metadata) -> bool {
    metadata.level() == Level::Trace
        && crate::client::UNSAFE_TRACE_TARGETS
            .iter()
            .any(|target| metadata.target().starts_with(target))
}

fn format_line(record: &Record) -> String {
    match record.level() {
        _ if record.target() == STATUS_TARGET => format!("tinkex: {}\n", record.args()),
        Level::Error => format!("tinkex: error: {}\n", record.args()),
        Level::Warn => format!("tinkex: warning: {}\n", record.args()),
        level => format!(
            "tinkex: [{} {}] {}\n",
            level.as_str().to_lowercase(),
            record.target(),
            record.args()
        ),
    }
}

/// Installs the logger; `RUST_LOG` (when set and not empty) overrides the flags.
pub fn init(verbosity: Verbosity) {
    let mut builder = env_logger::Builder::new();
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            builder.parse_filters(&spec);
        }
        _ => {
            let (all, status) = match verbosity {
                Verbosity::Quiet => (LevelFilter::Error, LevelFilter::Error),
                Verbosity::Normal => (LevelFilter::Warn, LevelFilter::Info),
                Verbosity::Verbose(1) => (LevelFilter::Info, LevelFilter::Info),
                Verbosity::Verbose(2) => (LevelFilter::Debug, LevelFilter::Debug),
                Verbosity::Verbose(_) => (LevelFilter::Trace, LevelFilter::Trace),
            };
            // Dependencies' chatter is only interesting from -vvv on.
            let dependencies = if all == LevelFilter::Trace {
                LevelFilter::Debug
            } else {
                LevelFilter::Warn
            };
            builder.filter_level(dependencies);
            builder.filter_module("tinkex", all);
            builder.filter_module(STATUS_TARGET, status);
        }
    }
    let inner = builder.build();
    let max_level = inner.filter();
    if log::set_boxed_logger(Box::new(ScrubbingLogger { inner })).is_ok() {
        log::set_max_level(max_level);
    }
}

/// Prints an error as one `tinkex: error:` line, plus a hint line when one helps.
pub fn report(error: &crate::error::Error) -> i32 {
    eprintln!("tinkex: error: {}", redact::scrub(&error.to_string()));
    if let Some(hint) = error.hint() {
        // A hint may quote the server or a path: it passes the same scrub as the message.
        eprintln!("tinkex: hint: {}", redact::scrub(hint));
    }
    error.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_prefix_and_level_words() {
        let status = Record::builder()
            .target(STATUS_TARGET)
            .level(Level::Info)
            .args(format_args!("sampling"))
            .build();
        assert_eq!(format_line(&status), "tinkex: sampling\n");
        let warn = Record::builder()
            .target("tinkex::client")
            .level(Level::Warn)
            .args(format_args!("slow"))
            .build();
        assert_eq!(format_line(&warn), "tinkex: warning: slow\n");
        let debug = Record::builder()
            .target("tinkex::client")
            .level(Level::Debug)
            .args(format_args!("x"))
            .build();
        assert_eq!(format_line(&debug), "tinkex: [debug tinkex::client] x\n");
    }

    #[test]
    fn wire_dumps_are_recognized() {
        let dump = Metadata::builder()
            .target("ureq_proto::util")
            .level(Level::Trace)
            .build();
        assert!(is_wire_dump(&dump));
        let ours = Metadata::builder()
            .target("tinkex::client")
            .level(Level::Trace)
            .build();
        assert!(!is_wire_dump(&ours));
    }
}
