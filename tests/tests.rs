//! One integration-test binary; modules by purpose.

mod tokenizer_hub;
mod tokenizer_local;
mod tokenizer_parity;
mod tokenizer_support;
