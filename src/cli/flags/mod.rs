//! The flag layer: typed values, the shared flag groups (declared once by `command_args!`,
//! checked once here), and the pre-pass and help argh lacks. Command folders build on it.

pub mod command_help;
pub mod groups;
pub mod help;
/// Crate-visible so the macro's expansion calls itself as `flags::macros::command_args!`
/// rather than through this parent (which would put the two in an import circle).
pub(crate) mod macros;
pub mod official;
pub mod prepass;
pub mod spec;
pub mod suggest;
pub mod values;

pub(crate) use macros::command_args;
