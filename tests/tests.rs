//! One integration-test binary; modules by purpose.

mod support;

mod cli_batch;
mod cli_run;
mod client_auth;
mod client_deadline;
mod client_polling;
mod client_protocol;
mod client_retry;
mod client_support;
mod client_vectors;
mod tokenizer_hub;
mod tokenizer_local;
mod tokenizer_parity;
mod tokenizer_support;
