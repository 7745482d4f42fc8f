//! One integration-test binary; modules by purpose.
