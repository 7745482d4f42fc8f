//! The crate's one error type, and the category that decides the exit code.

use std::fmt;

/// What kind of failure an error is; the CLI maps it to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Bad input from the user: flags, files, prompts, or a request the server refused as invalid.
    User,
    /// Missing, malformed, expired or refused credentials.
    Auth,
    /// The server or the network failed, after the retries the protocol allows.
    Server,
    /// The run's deadline passed.
    Timeout,
    /// A bug or an environment problem nobody anticipated.
    Unexpected,
}

impl Category {
    /// The documented process exit code for this category.
    pub fn exit_code(self) -> i32 {
        match self {
            Category::User => 2,
            Category::Auth => 3,
            Category::Server => 4,
            Category::Timeout => 5,
            Category::Unexpected => 1,
        }
    }

    /// A short lowercase name, used in JSON output and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Category::User => "user",
            Category::Auth => "auth",
            Category::Server => "server",
            Category::Timeout => "timeout",
            Category::Unexpected => "unexpected",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every failure tinkex can report. Messages never contain a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or its value is wrong.
    #[error("{0}")]
    Usage(String),

    /// An input (prompt, file, model name) is unusable.
    #[error("{message}")]
    Input {
        /// What is wrong, naming the flag or file.
        message: String,
        /// An optional second line telling the user what to do.
        hint: Option<String>,
    },

    /// A tokenizer could not be loaded; the category follows the cause.
    #[error("Failed to load tokenizer {id}: {reason}")]
    Tokenizer {
        /// The tokenizer id, path or repo that was asked for.
        id: String,
        /// Why it failed.
        reason: String,
        /// user (not found, corrupt, gated, offline), server (network) or timeout.
        category: Category,
    },

    /// A credential problem: none found, bad prefix, expired, or refused by the server.
    #[error("{message}")]
    Auth {
        /// What is wrong, naming the source but never the value.
        message: String,
        /// An optional second line telling the user what to do.
        hint: Option<String>,
    },

    /// The server answered with a status or result that ends the request.
    #[error("{message}")]
    Api {
        /// The category the status or the server's own `category` field maps to.
        category: Category,
        /// HTTP status, when the failure came with one.
        status: Option<u16>,
        /// Our description, quoting the server's own text.
        message: String,
    },

    /// The network failed (connect, TLS, reset) after the retries allowed.
    #[error("{0}")]
    Network(String),

    /// The server answered something we cannot decode.
    #[error("{0}")]
    Protocol(String),

    /// The run's deadline passed while a step was waiting.
    #[error("timed out after {seconds} s while {step}{}", last_error(.cause.as_deref()))]
    Timeout {
        /// What was waiting, e.g. "waiting for the sample result".
        step: String,
        /// The configured deadline, in seconds (shown as given: `0.05`, `60`).
        seconds: f64,
        /// What went wrong in the attempts the deadline cut short (`connection refused`).
        cause: Option<String>,
    },

    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// Which file and what we were doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The run was interrupted by a signal.
    #[error("interrupted")]
    Interrupted {
        /// The process exit code to use (130 for SIGINT, 143 for SIGTERM).
        exit_code: i32,
    },

    /// Anything else: a bug or an environment nobody anticipated.
    #[error("{0}")]
    Unexpected(String),
}

/// `: last error: {cause}`, or nothing.
fn last_error(cause: Option<&str>) -> String {
    cause
        .map(|c| format!(": last error: {c}"))
        .unwrap_or_default()
}

/// The hint after a server that could not be reached.
pub const UNREACHABLE_HINT: &str = "check --base-url or TINKER_BASE_URL, and that the server is up";

/// The hint after any tokenizer failure.
pub const TOKENIZER_HINT: &str = "pass --tokenizer FILE|DIR for a local copy, or --tokens-only with token ids (--prompt-file) to skip tokenization, or run tinkex prefetch on a connected machine first";

/// The reason of a tokenizer file that is not there (a user error, exit 2).
pub const TOKENIZER_MISSING_FILE: &str = "no such file";

/// The hint after a `--tokenizer` file that is not there: why it was read as a path.
pub const MISSING_TOKENIZER_HINT: &str = "a --tokenizer value that starts with . / or ~, ends in .json or lies in an existing folder is a path; check it, or give a Hugging Face repo id";

impl Error {
    /// Adds `cause` (the last failed attempt) to a timeout that has none; other errors pass.
    pub fn with_cause(self, cause: Option<&str>) -> Error {
        match (self, cause) {
            (
                Error::Timeout {
                    step,
                    seconds,
                    cause: None,
                },
                Some(cause),
            ) => Error::Timeout {
                step,
                seconds,
                cause: Some(cause.to_string()),
            },
            (error, _) => error,
        }
    }

    /// The category that decides the exit code.
    pub fn category(&self) -> Category {
        match self {
            Error::Usage(_) | Error::Input { .. } => Category::User,
            Error::Tokenizer { category, .. } => *category,
            Error::Auth { .. } => Category::Auth,
            Error::Api { category, .. } => *category,
            Error::Network(_) | Error::Protocol(_) => Category::Server,
            Error::Timeout { .. } => Category::Timeout,
            Error::Io { .. } => Category::User,
            Error::Interrupted { .. } | Error::Unexpected(_) => Category::Unexpected,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted { exit_code } => *exit_code,
            other => other.category().exit_code(),
        }
    }

    /// A second stderr line telling the user what to do, when one helps.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Input { hint, .. } | Error::Auth { hint, .. } => hint.as_deref(),
            // Whatever the cause (not found, offline, the hub down), a local copy or no
            // tokenizer at all is the way forward.
            Error::Tokenizer { reason, .. } if reason == TOKENIZER_MISSING_FILE => {
                Some(MISSING_TOKENIZER_HINT)
            }
            Error::Tokenizer { .. } => Some(TOKENIZER_HINT),
            Error::Usage(_) => Some("run 'tinkex run --help' for the flags and an example"),
            Error::Network(_) => Some(UNREACHABLE_HINT),
            // A deadline that ran out while the server could not be reached: the same hint.
            Error::Timeout {
                cause: Some(cause), ..
            } if cause.starts_with("cannot reach ") => Some(UNREACHABLE_HINT),
            _ => None,
        }
    }

    /// Shorthand for a usage error (a flag or a combination of flags is wrong).
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    /// Shorthand for an input error without a hint.
    pub fn input(message: impl Into<String>) -> Error {
        Error::Input {
            message: message.into(),
            hint: None,
        }
    }

    /// Shorthand for an auth error without a hint.
    pub fn auth(message: impl Into<String>) -> Error {
        Error::Auth {
            message: message.into(),
            hint: None,
        }
    }

    /// A user error for a file that could not be read: `{origin}: no such file`, etc.
    ///
    /// `origin` names the flag and path (`--prompt-file p.txt`); common causes get plain words.
    pub fn unreadable(origin: &str, error: &std::io::Error) -> Error {
        let why = match error.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => error.to_string(),
        };
        Error::input(format!("{origin}: {why}"))
    }

    /// Shorthand for an I/O error with the file and action it concerns.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
