//! Fault injection: the `ENDPOINT=KIND[xN][,KIND[xN]…]` syntax and the per-endpoint call counters.

use std::fmt;
use std::str::FromStr;

/// One endpoint of the Tinker API that the demo server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /api/v1/client/config`
    Config,
    /// `POST /api/v1/auth/token`
    Auth,
    /// `POST /api/v1/create_session`
    CreateSession,
    /// `POST /api/v1/session_heartbeat`
    Heartbeat,
    /// `POST /api/v1/create_sampling_session`
    CreateSamplingSession,
    /// `GET /api/v1/samplers/<id>`
    Samplers,
    /// `POST /api/v1/asample`
    Asample,
    /// `POST /api/v1/retrieve_future`
    RetrieveFuture,
    /// `POST /api/v1/sessions/<id>/finish`
    Finish,
}

impl Endpoint {
    /// Every endpoint, in the order a run calls them.
    pub const ALL: [Endpoint; 9] = [
        Endpoint::Config,
        Endpoint::Auth,
        Endpoint::CreateSession,
        Endpoint::Heartbeat,
        Endpoint::CreateSamplingSession,
        Endpoint::Samplers,
        Endpoint::Asample,
        Endpoint::RetrieveFuture,
        Endpoint::Finish,
    ];

    /// The name used in `--fault` specs.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Config => "config",
            Endpoint::Auth => "auth",
            Endpoint::CreateSession => "create_session",
            Endpoint::Heartbeat => "session_heartbeat",
            Endpoint::CreateSamplingSession => "create_sampling_session",
            Endpoint::Samplers => "samplers",
            Endpoint::Asample => "asample",
            Endpoint::RetrieveFuture => "retrieve_future",
            Endpoint::Finish => "finish",
        }
    }

    fn index(self) -> usize {
        Endpoint::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

impl FromStr for Endpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Endpoint::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
                format!("unknown endpoint `{s}` (one of: {})", names.join(", "))
            })
    }
}

/// What a faulty call gets instead of its normal answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// An HTTP error status (400–599) with a realistic JSON body.
    Status(u16),
    /// The connection is closed without any answer.
    Drop,
    /// A 200 whose body is broken: invalid JSON, or truncated protobuf.
    Malformed,
    /// `retrieve_future` answers `try_again` forever; elsewhere the same as `Hang`.
    Never,
    /// No answer at all: the request is held until the server stops or the client gives up.
    Hang,
    /// Status line, headers and half the body are sent, then the body stalls.
    Stall,
}

impl FaultKind {
    /// Every non-status kind, for listing in help texts and test matrices.
    pub const NAMED: [FaultKind; 5] = [
        FaultKind::Drop,
        FaultKind::Malformed,
        FaultKind::Never,
        FaultKind::Hang,
        FaultKind::Stall,
    ];
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Status(code) => write!(f, "{code}"),
            FaultKind::Drop => f.write_str("drop"),
            FaultKind::Malformed => f.write_str("malformed"),
            FaultKind::Never => f.write_str("never"),
            FaultKind::Hang => f.write_str("hang"),
            FaultKind::Stall => f.write_str("stall"),
        }
    }
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "drop" => Ok(FaultKind::Drop),
            "malformed" => Ok(FaultKind::Malformed),
            "never" => Ok(FaultKind::Never),
            "hang" => Ok(FaultKind::Hang),
            "stall" => Ok(FaultKind::Stall),
            _ => match s.parse::<u16>() {
                Ok(code) if (400..=599).contains(&code) => Ok(FaultKind::Status(code)),
                _ => Err(format!(
                    "unknown fault `{s}` (an HTTP status 400-599, drop, malformed, never, hang or stall)"
                )),
            },
        }
    }
}

/// One step of a fault sequence: a kind for the next `times` calls (`None`: every call from then on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultStep {
    /// What the call gets.
    pub kind: FaultKind,
    /// How many calls get it; `None` means all remaining calls.
    pub times: Option<u32>,
}

/// The faults for one endpoint, applied in order to its first calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSpec {
    /// The endpoint whose calls fail.
    pub endpoint: Endpoint,
    /// The steps, in call order.
    pub steps: Vec<FaultStep>,
}

impl FaultSpec {
    /// A spec of one kind for the first `times` calls (`None`: every call).
    pub fn new(endpoint: Endpoint, kind: FaultKind, times: Option<u32>) -> FaultSpec {
        let steps = vec![FaultStep { kind, times }];
        FaultSpec { endpoint, steps }
    }
}

impl FromStr for FaultSpec {
    type Err = String;
    /// Parses `asample=429x2,500x1` or `retrieve_future=never`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (endpoint, steps) = s
            .split_once('=')
            .ok_or("expected ENDPOINT=KIND[xN][,KIND[xN]...]")?;
        let endpoint = endpoint.trim().parse()?;
        let mut parsed = Vec::new();
        for step in steps.split(',') {
            parsed.push(parse_step(step.trim())?);
        }
        Ok(FaultSpec {
            endpoint,
            steps: parsed,
        })
    }
}

fn parse_step(step: &str) -> Result<FaultStep, String> {
    if let Some((kind, count)) = step.rsplit_once('x') {
        if let Ok(times) = count.trim().parse::<u32>() {
            if times == 0 {
                return Err(format!("`{step}`: the count after `x` must be at least 1"));
            }
            let kind = kind.trim().parse()?;
            return Ok(FaultStep {
                kind,
                times: Some(times),
            });
        }
    }
    let kind = step.parse()?;
    Ok(FaultStep { kind, times: None })
}

/// The faults of a running server and how many calls each endpoint has had.
#[derive(Debug, Default)]
pub struct FaultPlan {
    steps: [Vec<FaultStep>; 9],
    calls: [u64; 9],
}

impl FaultPlan {
    /// A plan from specs; several specs for one endpoint are chained in the order given.
    pub fn new(specs: &[FaultSpec]) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for spec in specs {
            plan.steps[spec.endpoint.index()].extend(spec.steps.iter().copied());
        }
        plan
    }

    /// Counts one call to `endpoint` and returns the fault it gets, if any.
    pub fn next(&mut self, endpoint: Endpoint) -> Option<FaultKind> {
        let i = endpoint.index();
        let call = self.calls[i];
        self.calls[i] += 1;
        let mut start = 0u64;
        for step in &self.steps[i] {
            match step.times {
                None => return Some(step.kind),
                Some(n) if call < start + u64::from(n) => return Some(step.kind),
                Some(n) => start += u64::from(n),
            }
        }
        None
    }
}
