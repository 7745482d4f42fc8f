//! One integration-test binary; modules by purpose.

mod client_protocol;
mod client_retry;
mod client_support;
