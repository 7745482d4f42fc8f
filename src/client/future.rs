//! The sample future: a worker thread polls `retrieve_future` with every retry
//! rule while the caller waits on a channel with its own timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::cancel;
use crate::client::core::{fatal_reply, Core, Failure};
use crate::client::result::{classify, PollAnswer};
use crate::client::retry::{self, Billing, VirtualClock};
use crate::client::status::{self, Last};
use crate::client::submit::{stopped, submit, Sampler, Submission};
use crate::client::transport::{NetError, Progress, Reply, Request};
use crate::client::types::SampleResponse;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

/// The log target for status lines a user should see (queue state); the CLI shows it unless `-q`.
pub const STATUS_TARGET: &str = "tinkex::status";

pub(crate) const WAIT_STEP: &str = "waiting for the sample result";
/// Bare 400s re-polled in a row before giving up.
const MAX_BARE_400: u32 = 3;
/// A poll answered faster than this counts towards a hot loop.
const FAST_POLL: Duration = Duration::from_secs(1);

/// A submitted sampling request whose result is being polled for.
pub struct SampleFuture {
    request_id: String,
    rx: Receiver<Result<SampleResponse>>,
    cancel: Arc<AtomicBool>,
    deadline: Deadline,
}

impl SampleFuture {
    /// The server's id for the request (the first one, if it had to be re-submitted).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Waits for the result, at most `timeout` and never past the config's deadline.
    pub fn wait(self, timeout: Option<Duration>) -> Result<SampleResponse> {
        // The worker ends itself at the deadline; the grace lets its own error win.
        let by_deadline = self.deadline.remaining() + Duration::from_millis(500);
        let limit = timeout.map_or(by_deadline, |t| t.min(by_deadline));
        match self.rx.recv_timeout(limit) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => match timeout {
                Some(t) if t < by_deadline => Err(Error::Timeout {
                    step: WAIT_STEP.to_string(),
                    seconds: t.as_secs_f64(),
                    cause: None,
                }),
                _ => Err(self.deadline.timeout_error(WAIT_STEP)),
            },
            Err(RecvTimeoutError::Disconnected) => Err(Error::Unexpected(format!(
                "the polling thread for request {} ended without a result",
                self.request_id
            ))),
        }
    }
}

impl std::fmt::Debug for SampleFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleFuture")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl Drop for SampleFuture {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Starts polling for `request_id` on a worker thread, every poll, wait and re-submission
/// within `deadline` (the line's); `cancel` is the flag its submission watched.
pub(crate) fn spawn(
    sampler: Arc<Sampler>,
    submission: Arc<Submission>,
    request_id: String,
    deadline: Deadline,
    cancel: Arc<AtomicBool>,
) -> SampleFuture {
    let (tx, rx) = mpsc::channel();
    sampler.core.pending.add(&request_id);
    let mut poller = Poller {
        deadline,
        ..Poller::new(sampler, submission, request_id.clone(), Arc::clone(&cancel))
    };
    let spawned = std::thread::Builder::new()
        .name("tinkex-poll".to_string())
        .spawn(move || {
            let outcome = poller.run();
            poller.settle(&outcome);
            let _ = tx.send(outcome);
        });
    if let Err(err) = spawned {
        let (tx, rx2) = mpsc::channel();
        let _ = tx.send(Err(Error::Unexpected(format!(
            "could not start a polling thread: {err}"
        ))));
        return SampleFuture {
            request_id,
            rx: rx2,
            cancel,
            deadline,
        };
    }
    SampleFuture {
        request_id,
        rx,
        cancel,
        deadline,
    }
}

/// The polling state of one future.
struct Poller {
    sampler: Arc<Sampler>,
    submission: Arc<Submission>,
    request_id: String,
    cancel: Arc<AtomicBool>,
    deadline: Deadline,
    iteration: u64,
    bare_400: u32,
    backoffs: u32,
    resubmits: u32,
    fast_streak: Option<(Instant, u32)>,
    throttled: bool,
    billing: Billing,
    clock: VirtualClock,
}

static LAST_QUEUE_NOTE: Mutex<Option<Instant>> = Mutex::new(None);

impl Poller {
    fn new(
        sampler: Arc<Sampler>,
        submission: Arc<Submission>,
        request_id: String,
        cancel: Arc<AtomicBool>,
    ) -> Poller {
        Poller {
            sampler,
            submission,
            request_id,
            cancel,
            deadline: Deadline::after(Duration::ZERO),
            iteration: 0,
            bare_400: 0,
            backoffs: 0,
            resubmits: 0,
            fast_streak: None,
            throttled: false,
            billing: Billing::default(),
            clock: VirtualClock::start(),
        }
    }

    fn core(&self) -> &Core {
        &self.sampler.core
    }

    fn run(&mut self) -> Result<SampleResponse> {
        loop {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(stopped());
            }
            self.deadline.check(WAIT_STEP)?;
            let started = Instant::now();
            let outcome = self.poll_once();
            let took = started.elapsed();
            self.iteration += 1;
            if let Some(response) = self.handle(outcome, took)? {
                return Ok(response);
            }
        }
    }

    fn poll_once(&self) -> std::result::Result<Reply, Failure> {
        let core = self.core();
        let body = serde_json::json!({ "request_id": self.request_id }).to_string();
        let mut req = Request::post("/api/v1/retrieve_future", body.into_bytes())
            .header("X-Tinker-Request-Iteration", self.iteration.to_string())
            .header("X-Tinker-Request-Type", "Sample");
        req.accept = "application/x-protobuf, application/json";
        let timeout = self.deadline.cap(core.config.timing.poll_timeout);
        fetch_watched(
            &self.sampler.core,
            req,
            (timeout, self.deadline),
            core.config.timing.stall_timeout,
        )
    }

    fn handle(
        &mut self,
        outcome: std::result::Result<Reply, Failure>,
        took: Duration,
    ) -> Result<Option<SampleResponse>> {
        match outcome {
            Err(Failure::Fatal(err)) => Err(err),
            Err(Failure::Net(NetError::TooLarge)) => Err(status::net_fatal(
                WAIT_STEP,
                &NetError::TooLarge,
                Some(&self.request_id),
            )),
            Err(Failure::Net(err @ (NetError::Timeout(_) | NetError::Stalled))) => {
                log::debug!("retrieve_future: {}; polling again", err.describe());
                self.immediate(took).map(|_| None)
            }
            Err(Failure::Net(err)) => {
                log::debug!("retrieve_future: {}; backing off", err.describe());
                self.back_off().map(|_| None)
            }
            Ok(reply) => self.on_reply(reply, took),
        }
    }

    fn on_reply(&mut self, reply: Reply, took: Duration) -> Result<Option<SampleResponse>> {
        if reply.status != 400 {
            self.bare_400 = 0;
        }
        if reply.status != 402 {
            self.billing.reset();
        }
        match reply.status {
            200..=299 => self.on_answer(&reply, took),
            408 | 500.. => self.immediate(took).map(|_| None),
            429 => self.back_off().map(|_| None),
            400 => {
                self.bare_400 += 1;
                if self.bare_400 > MAX_BARE_400 {
                    return Err(fatal_reply(WAIT_STEP, &reply, Some(&self.request_id)));
                }
                self.immediate(took).map(|_| None)
            }
            410 => self.resubmit().map(|_| None),
            402 => self.billing_wait(reply).map(|_| None),
            _ => Err(fatal_reply(WAIT_STEP, &reply, Some(&self.request_id))),
        }
    }

    fn on_answer(&mut self, reply: &Reply, took: Duration) -> Result<Option<SampleResponse>> {
        match classify(reply, &self.submission.asked(), WAIT_STEP, &self.request_id) {
            PollAnswer::Done(response) => Ok(Some(response)),
            PollAnswer::Failed(err) => Err(err),
            PollAnswer::TryAgain {
                queue_state,
                reason,
            } => {
                self.backoffs = 0;
                note_queue_state(&queue_state, reason.as_deref());
                self.immediate(took).map(|_| None)
            }
        }
    }

    /// Polls again at once, unless fast answers come in a hot loop.
    fn immediate(&mut self, took: Duration) -> Result<()> {
        if took >= FAST_POLL {
            self.fast_streak = None;
            self.throttled = false;
            return Ok(());
        }
        let (since, count) = self.fast_streak.get_or_insert((Instant::now(), 0));
        *count += 1;
        if *count >= 3 && (self.throttled || since.elapsed() < FAST_POLL) {
            self.throttled = true;
            self.sleep(retry::HOT_POLL_PAUSE)?;
        }
        Ok(())
    }

    fn back_off(&mut self) -> Result<()> {
        self.fast_streak = None;
        let delay = retry::poll_backoff(self.backoffs);
        self.backoffs += 1;
        self.sleep(delay)
    }

    fn resubmit(&mut self) -> Result<()> {
        self.fast_streak = None;
        let delay = retry::resubmit_delay(self.resubmits);
        self.resubmits += 1;
        log::info!(
            "request {} expired on the server (410); submitting it again",
            self.request_id
        );
        self.sleep(delay)?;
        let fresh = submit(
            &self.sampler,
            &self.submission,
            &self.deadline,
            &self.cancel,
        )?;
        self.core().pending.remove(&self.request_id);
        self.core().pending.add(&fresh);
        self.request_id = fresh;
        self.iteration = 0;
        self.bare_400 = 0;
        Ok(())
    }

    fn billing_wait(&mut self, reply: Reply) -> Result<()> {
        if !self.billing.allow_retry(self.clock.elapsed(), WAIT_STEP) {
            let last = Last::Reply(reply);
            return Err(status::exhausted(WAIT_STEP, &last, Some(&self.request_id)));
        }
        self.sleep(retry::BILLING_INTERVAL)
    }

    fn sleep(&mut self, nominal: Duration) -> Result<()> {
        let core = &self.sampler.core;
        core.config
            .retry
            .sleep(&mut self.clock, nominal, &self.deadline, WAIT_STEP)
    }

    /// After the loop: an answered request is forgotten; one given up on (its deadline
    /// passed, or the caller stopped waiting) is cancelled on the server when it allows.
    fn settle(&self, outcome: &Result<SampleResponse>) {
        let core = self.core();
        match outcome {
            Err(Error::Timeout { .. }) | Err(Error::Unexpected(_)) => {
                cancel::cancel_future(core, &self.request_id);
            }
            _ => core.pending.remove(&self.request_id),
        }
    }
}

/// Logs a non-active queue state on the status target, at most once a minute.
fn note_queue_state(state: &str, reason: Option<&str>) {
    if state == "active" {
        return;
    }
    let mut last = LAST_QUEUE_NOTE.lock().unwrap_or_else(|e| e.into_inner());
    if last.is_some_and(|at| at.elapsed() < Duration::from_secs(60)) {
        return;
    }
    *last = Some(Instant::now());
    let what = match state {
        "paused_capacity" => "paused: the service is at capacity".to_string(),
        "paused_rate_limit" => "paused: rate limit reached".to_string(),
        other => crate::redact::server_text(other),
    };
    match reason {
        Some(r) if !r.is_empty() => {
            let r = crate::redact::server_text(r);
            log::info!(target: STATUS_TARGET, "queue {what} ({r}); still waiting")
        }
        _ => log::info!(target: STATUS_TARGET, "queue {what}; still waiting"),
    }
}

/// One poll on a helper thread, so a body that stops arriving can be given up
/// after `stall` without waiting for the whole per-poll timeout.
fn fetch_watched(
    core: &Arc<Core>,
    req: Request,
    (timeout, deadline): (Duration, Deadline),
    stall: Duration,
) -> std::result::Result<Reply, Failure> {
    let progress = Arc::new(Progress::new());
    let (tx, rx) = mpsc::channel();
    let (core2, progress2) = (Arc::clone(core), Arc::clone(&progress));
    let spawned = std::thread::Builder::new()
        .name("tinkex-fetch".to_string())
        .spawn(move || {
            let _ = tx.send(core2.send_by(&req, timeout, Some(&progress2), false, &deadline));
        });
    if let Err(err) = spawned {
        return Err(Failure::Fatal(Error::Unexpected(format!(
            "could not start a request thread: {err}"
        ))));
    }
    let give_up = Instant::now() + timeout + Duration::from_secs(2);
    let tick = (stall / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    loop {
        match rx.recv_timeout(tick) {
            Ok(outcome) => return outcome,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Failure::Fatal(Error::Unexpected(
                    "the request thread ended without an answer".to_string(),
                )))
            }
            Err(RecvTimeoutError::Timeout) => {
                if progress.idle().is_some_and(|idle| idle >= stall) {
                    return Err(Failure::Net(NetError::Stalled));
                }
                if Instant::now() >= give_up {
                    return Err(Failure::Net(NetError::Timeout(
                        "per-poll limit".to_string(),
                    )));
                }
            }
        }
    }
}
