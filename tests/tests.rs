//! One integration-test binary; modules by purpose.

mod support;

/// The offline demo server (examples/demo_server), run in-process.
#[path = "../examples/demo_server/server.rs"]
mod demo;

mod cancel_on_early_end;
mod catalog_cli;
mod catalog_client;
mod catalog_demo;
mod chat_batch;
mod chat_cli;
mod chat_cli_errors;
mod chat_engine;
mod chat_goldens;
mod chat_profiles;
mod chat_pyfmt;
mod cli_batch;
mod cli_credentials;
mod cli_first_minutes;
mod cli_live;
mod cli_run;
mod cli_score;
mod cli_score_batch;
mod cli_tokenizers;
mod cli_topk;
mod cli_version;
mod client_auth;
mod client_credentials;
mod client_deadline;
mod client_polling;
mod client_protocol;
mod client_retry;
mod client_scoring;
mod client_vectors;
mod demo_faults;
mod demo_scoring;
mod demo_server;
mod demo_validation;
mod e2e_batch;
mod e2e_faults;
mod e2e_modes;
mod e2e_shard;
mod endless_matrix;
mod first_minutes_two;
mod hostile_batch;
mod hostile_batch_cli;
mod hostile_regress;
mod hostile_server;
mod hostile_templates;
mod recipe_kubernetes;
mod recipe_slurm;
mod tokenizer_cache_store;
mod tokenizer_fast_cache;
mod tokenizer_fast_parity;
mod tokenizer_fast_variants;
mod tokenizer_hub;
mod tokenizer_local;
mod tokenizer_parity;
