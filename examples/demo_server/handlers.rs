//! Routing and the order of checks: fault, credential, headers, then the endpoint itself.

use std::sync::{Mutex, MutexGuard};

use super::auth::{self, Jwts};
use super::catalog;
use super::download::{self, Downloads};
use super::faults::{Endpoint, FaultKind, FaultPlan};
use super::reply::{Answer, Call, Handled, Reply};
use super::sampling;
use super::sessions::{self, State};
use super::{billing, lifecycle};
use super::{DemoConfig, Stopper};

/// Everything the request threads share.
pub struct Ctx {
    /// The server's knobs.
    pub config: DemoConfig,
    /// Sessions, samplers and requests.
    pub state: Mutex<State>,
    /// Which calls fail, and how.
    pub faults: Mutex<FaultPlan>,
    /// Issued JWTs.
    pub jwts: Jwts,
    /// Wakes held requests when the server stops.
    pub stopper: Stopper,
    /// What the checkpoint lifecycle calls changed in the catalog.
    pub lifecycle: Mutex<lifecycle::Overlay>,
    /// Downloadable checkpoints: exports, futures, the URL signing key.
    pub downloads: Downloads,
}

impl Ctx {
    /// A fresh context for `config`.
    pub fn new(config: DemoConfig) -> Ctx {
        let faults = Mutex::new(FaultPlan::new(&config.faults));
        Ctx {
            config,
            state: Mutex::default(),
            faults,
            jwts: Jwts::default(),
            stopper: Stopper::default(),
            lifecycle: Mutex::default(),
            downloads: Downloads::default(),
        }
    }

    /// The state, locked (a panicked holder does not poison it for the others).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Answers one call.
pub fn handle(ctx: &Ctx, call: &Call) -> Reply {
    // Downloads (and their signed storage URLs) come first: the catalog owns `training_runs/`.
    if let Some(reply) = download::handle(ctx, call) {
        return reply;
    }
    // The read endpoints take no faults: the fault plan counts only the sampling run's calls.
    if let Some(reply) = lifecycle::handle(ctx, call).or_else(|| billing::handle(ctx, call)) {
        return reply;
    }
    if let Some(reply) = catalog::handle(ctx, call) {
        return reply;
    }
    // Not in the fault plan either: only a client that was told it may cancel calls it.
    if call.path == "/api/v1/cancel_future" {
        return Reply::Answer(sampling::cancel_future(ctx, call).unwrap_or_else(|e| e));
    }
    let (endpoint, arg) = match route(&call.method, &call.path) {
        Ok(route) => route,
        Err(answer) => return Reply::Answer(answer),
    };
    let fault = ctx
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .next(endpoint);
    match fault {
        Some(FaultKind::Status(code)) => return Reply::Answer(fault_answer(code, endpoint)),
        Some(FaultKind::Drop) => return Reply::Drop,
        Some(FaultKind::Hang) => return Reply::Hang,
        Some(FaultKind::Never) if endpoint != Endpoint::RetrieveFuture => return Reply::Hang,
        _ => {}
    }
    let never = fault == Some(FaultKind::Never);
    let answer = checked(ctx, endpoint, arg.as_deref(), call, never).unwrap_or_else(|e| e);
    match fault {
        Some(FaultKind::Malformed) => Reply::Answer(malform(answer)),
        Some(FaultKind::Stall) => Reply::Stall(answer),
        _ => Reply::Answer(answer),
    }
}

fn checked(ctx: &Ctx, endpoint: Endpoint, arg: Option<&str>, call: &Call, never: bool) -> Handled {
    let cfg = &ctx.config;
    auth::check(
        &ctx.jwts,
        cfg.jwt,
        cfg.require_key.as_deref(),
        endpoint,
        call,
    )?;
    check_headers(call)?;
    let arg = arg.unwrap_or_default();
    match endpoint {
        Endpoint::Config => sessions::client_config(ctx, call),
        Endpoint::Auth => sessions::auth_token(ctx, call),
        Endpoint::CreateSession => sessions::create_session(ctx, call),
        Endpoint::Heartbeat => sessions::heartbeat(ctx, call),
        Endpoint::CreateSamplingSession => sessions::create_sampling_session(ctx, call),
        Endpoint::Samplers => sessions::sampler_info(ctx, arg),
        Endpoint::Asample => sampling::asample(ctx, call),
        Endpoint::RetrieveFuture => sampling::retrieve_future(ctx, call, never),
        Endpoint::Finish => sessions::finish(ctx, arg, call),
    }
}

/// Maps method and path to an endpoint and its path argument, or answers 404/405.
fn route(method: &str, path: &str) -> Result<(Endpoint, Option<String>), Answer> {
    let path = path.split('?').next().unwrap_or_default();
    let rest = path.strip_prefix("/api/v1/").unwrap_or("\0");
    let id_ok = |id: &str| !id.is_empty() && !id.contains('/');
    let (endpoint, arg) = match rest {
        "client/config" => (Endpoint::Config, None),
        "auth/token" => (Endpoint::Auth, None),
        "create_session" => (Endpoint::CreateSession, None),
        "session_heartbeat" => (Endpoint::Heartbeat, None),
        "create_sampling_session" => (Endpoint::CreateSamplingSession, None),
        "asample" => (Endpoint::Asample, None),
        "retrieve_future" => (Endpoint::RetrieveFuture, None),
        _ => match rest.strip_prefix("samplers/") {
            Some(id) if id_ok(id) => (Endpoint::Samplers, Some(id.to_string())),
            _ => match rest
                .strip_prefix("sessions/")
                .and_then(|r| r.strip_suffix("/finish"))
            {
                Some(id) if id_ok(id) => (Endpoint::Finish, Some(id.to_string())),
                _ => return Err(Answer::detail(404, "Not Found")),
            },
        },
    };
    let expected = if endpoint == Endpoint::Samplers {
        "GET"
    } else {
        "POST"
    };
    if method != expected {
        return Err(Answer::detail(405, "Method Not Allowed"));
    }
    Ok((endpoint, arg))
}

/// A realistic error answer for an injected status.
fn fault_answer(code: u16, endpoint: Endpoint) -> Answer {
    let detail = match code {
        400 => "Bad request",
        401 => "Invalid or expired token",
        402 => "Payment required: the account has reached its billing limit",
        403 => "Forbidden",
        404 => "Not found",
        408 => "Request timed out",
        409 => "Conflict",
        410 if endpoint == Endpoint::RetrieveFuture => {
            "Promise expired: the result is no longer available, submit the request again"
        }
        410 => "Gone",
        429 => "Rate limit exceeded, please slow down",
        500 => "Internal server error",
        502 => "Bad gateway",
        503 => "Service temporarily unavailable",
        504 => "Gateway timeout",
        _ => "Error",
    };
    let answer = Answer::detail(code, format!("{detail} (injected by the demo server)"));
    if code == 401 {
        return answer.with_header("WWW-Authenticate", r#"Bearer error="invalid_token""#);
    }
    answer
}

/// Breaks a body: a protobuf loses its last byte (so its last field is cut short), JSON its
/// second half (so an object never closes).
fn malform(mut answer: Answer) -> Answer {
    if answer.content_type.contains("protobuf") {
        match answer.body.pop() {
            Some(_) => {}
            None => answer.body = vec![0x0A, 0x05],
        }
    } else {
        let half = answer.body.len() / 2;
        answer.body.truncate(half.max(1));
    }
    answer.status = 200;
    answer
}

/// POSTs must be JSON and carry an idempotency key.
pub fn check_headers(call: &Call) -> Result<(), Answer> {
    if call.method != "POST" {
        return Ok(());
    }
    let json = call
        .header("content-type")
        .is_some_and(|v| v.contains("application/json"));
    if !json {
        return Err(Answer::detail(415, "Content-Type must be application/json"));
    }
    if call.header("x-idempotency-key").is_none_or(str::is_empty) {
        return Err(Answer::detail(400, "missing X-Idempotency-Key header"));
    }
    Ok(())
}
