//! One integration-test binary; modules by purpose.

/// The offline demo server (examples/demo_server), run in-process.
#[path = "../examples/demo_server/server.rs"]
mod demo;
mod demo_faults;
mod demo_server;
mod demo_util;
mod demo_validation;
mod tokenizer_hub;
mod tokenizer_local;
mod tokenizer_parity;
mod tokenizer_support;
