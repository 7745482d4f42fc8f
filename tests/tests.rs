//! One integration-test binary; modules by purpose.
mod chat_goldens;
mod chat_profiles;
