//! One integration-test binary; modules by purpose.

mod tokenizer_fast_cache;
mod tokenizer_fast_gen;
mod tokenizer_fast_parity;
mod tokenizer_fast_support;
mod tokenizer_fast_variants;
mod tokenizer_hub;
mod tokenizer_local;
mod tokenizer_parity;
mod tokenizer_support;
