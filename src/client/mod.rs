//! The client layer: speaks the Tinker sampling protocol over blocking HTTP.
//!
//! [`ServiceClient`] opens a session; [`SamplingClient`] submits sampling
//! requests; [`SampleFuture`] waits for their results. Nothing here prints:
//! status goes to the `log` crate (queue state on target `tinkex::status`).
//! [`CatalogClient`] lists models, training runs and checkpoints (no session).

mod auth;
mod catalog;
mod config;
mod core;
mod credentials;
mod future;
mod heartbeat;
mod jwt;
mod proto;
mod result;
mod retry;
mod sampling;
mod service;
mod status;
mod stored;
mod submit;
mod transport;
mod types;

pub use catalog::{
    CatalogClient, Checkpoint, CheckpointInfo, CheckpointPath, Cursor, Listing, SupportedModel,
    TrainingRun, CHECKPOINT_PAGE, MAX_LISTED, RUN_PAGE,
};
pub use config::{retry_scale_from_env, Config, CredentialSource, DEFAULT_BASE_URL, SDK_VERSION};
pub use future::{SampleFuture, STATUS_TARGET};
pub use retry::RetryPolicy;
pub use sampling::SamplingClient;
pub use service::ServiceClient;
pub use types::{
    ModelInput, SampleExtras, SampleResponse, SampledSequence, SamplerSpec, SamplingParams,
    StopCondition, StopReason, TopkRow,
};

/// Log targets whose trace records contain raw request bytes, credential
/// included (ureq-proto hex-dumps every request at trace). A logger must cap
/// them at debug whatever `RUST_LOG` says; everything else is safe at trace.
pub const UNSAFE_TRACE_TARGETS: &[&str] = &["ureq_proto"];

/// Decodes a protobuf `SampleResponse` body (exposed for fixtures and tools).
pub fn decode_protobuf_response(body: &[u8]) -> crate::Result<SampleResponse> {
    proto::decode(body).map_err(|what| {
        crate::Error::Protocol(format!("the server's sample result is not valid: {what}"))
    })
}
