//! The client layer: speaks the Tinker sampling protocol over blocking HTTP.
//!
//! [`ServiceClient`] opens a session; [`SamplingClient`] submits sampling
//! requests; [`SampleFuture`] waits for their results. Nothing here prints:
//! status goes to the `log` crate (queue state on target `tinkex::status`).
//! [`CatalogClient`] lists models, training runs and checkpoints (no session);
//! [`LifecycleClient`] publishes, expires and deletes them; [`BillingClient`] reads usage.

mod auth;
pub mod billing;
mod cancel;
mod catalog;
mod config;
mod core;
mod credentials;
mod export;
mod future;
mod heartbeat;
mod jwt;
pub mod lifecycle;
pub mod official;
mod proto;
mod result;
mod retry;
mod sampling;
mod service;
mod session_meta;
mod status;
mod stored;
mod submit;
mod transport;
mod types;
mod validate;
pub mod when;

pub use billing::BillingClient;
pub use catalog::{
    CatalogClient, Checkpoint, CheckpointInfo, CheckpointPath, Cursor, Lenient, Listing,
    SupportedModel, TrainingRun, CHECKPOINT_PAGE, MAX_LISTED, MAX_LISTED_BYTES, RUN_PAGE,
};
pub use config::{retry_scale_from_env, Config, CredentialSource, DEFAULT_BASE_URL, SDK_VERSION};
pub use export::{
    ArchiveUrl, ExportClient, ExportSession, SessionEnd, SignedUrls, EXPORT_TTL_SECONDS,
};
pub use future::{SampleFuture, STATUS_TARGET};
pub use lifecycle::LifecycleClient;
pub use retry::RetryPolicy;
pub use sampling::SamplingClient;
pub use service::{FinishReason, ServiceClient};
pub use session_meta::SessionMeta;
pub use types::{
    Chunk, ImageChunk, ModelInput, SampleExtras, SampleResponse, SampledSequence, SamplerSpec,
    SamplingParams, StopCondition, StopReason, TopkRow,
};
pub use validate::LOGPROB_TOLERANCE;

/// Log targets whose trace records contain raw request bytes, credential
/// included (ureq-proto hex-dumps every request at trace). A logger must cap
/// them at debug whatever `RUST_LOG` says; everything else is safe at trace.
pub const UNSAFE_TRACE_TARGETS: &[&str] = &["ureq_proto"];

/// Decodes a protobuf `SampleResponse` body (exposed for fixtures and tools).
pub fn decode_protobuf_response(body: &[u8]) -> crate::Result<SampleResponse> {
    let invalid = |what: String| {
        crate::Error::Protocol(format!("the server's sample result is not valid: {what}"))
    };
    let response = proto::decode(body).map_err(invalid)?;
    validate::check(&response, &validate::Asked::unknown()).map_err(invalid)?;
    Ok(response)
}
