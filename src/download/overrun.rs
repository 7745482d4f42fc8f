//! Noticing bytes past a body's `Content-Length`. ureq stops reading at the declared length
//! and drops the connection when more bytes wait, silently; a storage server that sends more
//! than it declared is lying about the file, so each connection of the storage agent is
//! wrapped to raise a flag the fetcher reads once a body has ended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// How long a finished connection is watched for stray bytes: a server that sends more
/// than it declared sends it with the body, so a short look suffices.
const LOOK: Duration = Duration::from_millis(20);

/// The last in a connector chain: wraps the transport so stray bytes raise `flag`.
#[derive(Debug, Clone)]
pub struct Overrun {
    /// Raised when a connection of this agent had bytes after the end of a response.
    pub flag: Arc<AtomicBool>,
}

impl Connector<Box<dyn Transport>> for Overrun {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| {
            Box::new(Watched {
                inner,
                flag: Arc::clone(&self.flag),
            }) as Box<dyn Transport>
        }))
    }
}

/// A transport whose leftover input, when it is given back or closed, raises the flag.
#[derive(Debug)]
struct Watched {
    inner: Box<dyn Transport>,
    flag: Arc<AtomicBool>,
}

impl Watched {
    /// Whether bytes wait beyond what was consumed: buffered, or arriving within [`LOOK`].
    fn stray_bytes(&mut self) -> bool {
        if !self.inner.buffers().input().is_empty() {
            return true;
        }
        let look = NextTimeout {
            after: UreqDuration::from_millis(LOOK.as_millis() as u64),
            reason: ureq::Timeout::RecvBody,
            per_read: None,
            per_write: None,
        };
        matches!(self.inner.await_input(look), Ok(true))
    }
}

impl Transport for Watched {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    /// Asked when a kept-alive connection goes back to the pool, after its body ended.
    fn is_open(&mut self) -> bool {
        if self.stray_bytes() {
            self.flag.store(true, Ordering::SeqCst);
            return false;
        }
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl Drop for Watched {
    /// A connection closed after its response (`Connection: close`) or refused for reuse.
    /// A connection given up mid-body also lands here; the fetcher only reads the flag
    /// after a body that ended at its declared length, and lowers it before each request.
    fn drop(&mut self) {
        if self.stray_bytes() {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}
