//! The sampling client: builds `asample` requests and submits them with their retry rules.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::client::core::{fatal_reply, Core, Failure};
use crate::client::future::{self, SampleFuture};
use crate::client::retry::{self, Billing, VirtualClock};
use crate::client::service::{string_field, to_json, SamplerSpec};
use crate::client::status::{self, Last};
use crate::client::transport::{NetError, Request};
use crate::client::types::{ModelInput, SamplingParams, StopCondition};
use crate::error::{Error, Result};

const SUBMIT_STEP: &str = "submitting the sample request";

/// Samples from one sampling session. Cheap to clone; share it across threads.
///
/// ```no_run
/// use std::time::Duration;
/// use tinkex::client::{Config, ModelInput, SamplerSpec, SamplingParams, ServiceClient};
///
/// let service = ServiceClient::new(Config::new("tml-…", tinkex::client::DEFAULT_BASE_URL))?;
/// let sampler = service.create_sampling_client(SamplerSpec::base_model("Qwen/Qwen3-8B"))?;
/// let params = SamplingParams { max_tokens: Some(16), ..SamplingParams::default() };
/// let future = sampler.sample(ModelInput::from_tokens(vec![9707, 11, 1879]), 1, params)?;
/// let response = future.wait(Some(Duration::from_secs(60)))?;
/// println!("{:?}", response.sequences[0].tokens);
/// # Ok::<(), tinkex::Error>(())
/// ```
#[derive(Clone)]
pub struct SamplingClient {
    inner: Arc<Sampler>,
}

/// What a sampling client and its futures share.
pub(crate) struct Sampler {
    pub core: Arc<Core>,
    pub id: String,
    spec: SamplerSpec,
    next_seq: AtomicU64,
}

/// One sampling request, kept so it can be re-submitted after a 410.
pub(crate) struct Submission {
    pub prompt: ModelInput,
    num_samples: u32,
    params: SamplingParams,
    prompt_logprobs: bool,
    topk_prompt_logprobs: u32,
}

#[derive(Serialize)]
struct Chunk<'a> {
    tokens: &'a [u32],
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Prompt<'a> {
    chunks: [Chunk<'a>; 1],
}

#[derive(Serialize)]
#[serde(untagged)]
enum Stop<'a> {
    Strings(&'a [String]),
    Tokens(&'a [u32]),
}

#[derive(Serialize)]
struct Params<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<Stop<'a>>,
    temperature: f64,
    top_k: i64,
    top_p: f64,
}

#[derive(Serialize)]
struct Asample<'a> {
    num_samples: u32,
    prompt: Prompt<'a>,
    sampling_params: Params<'a>,
    sampling_session_id: &'a str,
    seq_id: u64,
    prompt_logprobs: bool,
    topk_prompt_logprobs: u32,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl Submission {
    /// The exact `asample` body for this submission.
    pub(crate) fn body(&self, sampling_session_id: &str, seq_id: u64) -> Vec<u8> {
        let p = &self.params;
        let stop = p.stop.as_ref().map(|s| match s {
            StopCondition::Strings(v) => Stop::Strings(v),
            StopCondition::Tokens(v) => Stop::Tokens(v),
        });
        to_json(&Asample {
            num_samples: self.num_samples,
            prompt: Prompt {
                chunks: [Chunk {
                    tokens: self.prompt.tokens(),
                    kind: "encoded_text",
                }],
            },
            sampling_params: Params {
                max_tokens: p.max_tokens,
                seed: p.seed,
                stop,
                temperature: p.temperature,
                top_k: p.top_k,
                top_p: p.top_p,
            },
            sampling_session_id,
            seq_id,
            prompt_logprobs: self.prompt_logprobs,
            topk_prompt_logprobs: self.topk_prompt_logprobs,
            kind: "sample",
        })
    }
}

impl SamplingClient {
    pub(crate) fn new(core: Arc<Core>, id: String, spec: SamplerSpec) -> SamplingClient {
        SamplingClient {
            inner: Arc::new(Sampler {
                core,
                id,
                spec,
                next_seq: AtomicU64::new(0),
            }),
        }
    }

    /// The server's id for this sampling session.
    pub fn sampling_session_id(&self) -> &str {
        &self.inner.id
    }

    /// The base model: the spec's, else asked from the server (`GET samplers/<id>`).
    pub fn base_model(&self) -> Result<String> {
        if let Some(name) = &self.inner.spec.base_model {
            return Ok(name.clone());
        }
        const STEP: &str = "looking up the sampler's base model";
        let req = Request::get(format!("/api/v1/samplers/{}", self.inner.id));
        let answer = self.inner.core.setup_json(STEP, &req, false)?;
        string_field(&answer, "base_model", STEP)
    }

    /// Submits a sampling request; the future polls for its result.
    pub fn sample(
        &self,
        prompt: ModelInput,
        num_samples: u32,
        params: SamplingParams,
    ) -> Result<SampleFuture> {
        self.sample_with_prompt_logprobs(prompt, num_samples, params, false, 0)
    }

    /// Like [`SamplingClient::sample`], also asking for prompt logprobs and the top-k per prompt token.
    pub fn sample_with_prompt_logprobs(
        &self,
        prompt: ModelInput,
        num_samples: u32,
        params: SamplingParams,
        prompt_logprobs: bool,
        topk_prompt_logprobs: u32,
    ) -> Result<SampleFuture> {
        check_params(&prompt, num_samples, &params)?;
        let submission = Arc::new(Submission {
            prompt,
            num_samples,
            params,
            prompt_logprobs,
            topk_prompt_logprobs,
        });
        let request_id = submit(&self.inner, &submission)?;
        Ok(future::spawn(
            Arc::clone(&self.inner),
            submission,
            request_id,
        ))
    }
}

impl std::fmt::Debug for SamplingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamplingClient")
            .field("sampling_session_id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

fn check_params(prompt: &ModelInput, num_samples: u32, params: &SamplingParams) -> Result<()> {
    if prompt.is_empty() {
        return Err(Error::input("the prompt is empty"));
    }
    if num_samples == 0 {
        return Err(Error::input("the number of samples must be at least 1"));
    }
    for (name, value) in [("temperature", params.temperature), ("top_p", params.top_p)] {
        if !value.is_finite() || value < 0.0 {
            return Err(Error::input(format!(
                "{name} must be a finite non-negative number, got {value}"
            )));
        }
    }
    Ok(())
}

/// Sends one submission (a new `seq_id`) with the `asample` retry rules; the request id.
pub(crate) fn submit(sampler: &Sampler, submission: &Submission) -> Result<String> {
    let core = &sampler.core;
    let (policy, deadline) = (&core.config.retry, core.deadline());
    let seq_id = sampler.next_seq.fetch_add(1, Ordering::SeqCst);
    let req = asample_request(submission.body(&sampler.id, seq_id));
    let body_len = req.body.as_ref().map_or(0, Vec::len);
    let mut clock = VirtualClock::start();
    let mut billing = Billing::default();
    let mut retries = 0u32;
    loop {
        deadline.check(SUBMIT_STEP)?;
        let timeout = deadline.cap(core.config.timing.request_timeout);
        let last = match core.send(&req, timeout, None, false) {
            Err(Failure::Fatal(err)) => return Err(err),
            Err(Failure::Net(NetError::TooLarge)) => {
                return Err(status::net_fatal(SUBMIT_STEP, &NetError::TooLarge, None))
            }
            Err(Failure::Net(err)) => {
                core.note_unreachable(&err);
                Last::Net(err)
            }
            Ok(reply) if (200..300).contains(&reply.status) => {
                return accepted(&reply.body, seq_id);
            }
            Ok(reply) if reply.status == 402 => {
                if !billing.allow_retry(clock.elapsed(), SUBMIT_STEP) {
                    return Err(status::exhausted(SUBMIT_STEP, &Last::Reply(reply), None));
                }
                policy.sleep(&mut clock, retry::BILLING_INTERVAL, deadline, SUBMIT_STEP)?;
                continue;
            }
            Ok(reply) if reply.status == 429 => {
                billing.reset();
                log::debug!("asample: backpressure (429); resending seq_id {seq_id}");
                let delay = retry::backpressure_delay(body_len);
                policy.sleep(&mut clock, delay, deadline, SUBMIT_STEP)?;
                continue;
            }
            Ok(reply) if matches!(reply.status, 408 | 409) || reply.status >= 500 => {
                Last::Reply(reply)
            }
            Ok(reply) => return Err(fatal_reply(SUBMIT_STEP, &reply, None)),
        };
        billing.reset();
        let cause = Some(crate::client::core::short(&last));
        let with_cause = |e: Error| e.with_cause(cause.as_deref());
        // A request cut short by the deadline is the deadline's failure, not an exhausted retry.
        deadline.check(SUBMIT_STEP).map_err(with_cause)?;
        if clock.elapsed() >= retry::RETRY_WINDOW {
            return Err(match &last {
                Last::Net(err) => core.unreachable(SUBMIT_STEP, err),
                Last::Reply(_) => status::exhausted(SUBMIT_STEP, &last, None),
            });
        }
        let delay = retry::asample_delay(retries);
        log::debug!("asample: retrying seq_id {seq_id} in {delay:?}");
        policy
            .sleep(&mut clock, delay, deadline, SUBMIT_STEP)
            .map_err(with_cause)?;
        retries += 1;
    }
}

fn asample_request(body: Vec<u8>) -> Request {
    Request::post("/api/v1/asample", body).header("X-Tinker-Sampling-Backpressure", "1")
}

/// Reads the request id from an accepted `asample` (other fields are optional).
fn accepted(body: &[u8], seq_id: u64) -> Result<String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| status::bad_answer(SUBMIT_STEP, &format!("not JSON ({e})"), None))?;
    if let Some(err) = status::error_field(SUBMIT_STEP, &value, None) {
        return Err(err);
    }
    let request_id = string_field(&value, "request_id", SUBMIT_STEP)?;
    log::info!("sample request id: {request_id} (seq_id {seq_id})");
    Ok(request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_can_be_shared_across_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        fn sendable<T: Send>() {}
        shared::<SamplingClient>();
        sendable::<crate::client::ServiceClient>();
        sendable::<SampleFuture>();
    }

    #[test]
    fn nan_parameters_are_refused_before_sending() {
        let params = SamplingParams {
            temperature: f64::NAN,
            ..SamplingParams::default()
        };
        let err = check_params(&ModelInput::from_tokens(vec![1]), 1, &params).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("temperature"));
        let empty = check_params(&ModelInput::default(), 1, &SamplingParams::default());
        assert!(empty.is_err());
    }

    #[test]
    fn stop_tokens_serialise_as_a_list_of_ids() {
        let sub = Submission {
            prompt: ModelInput::from_tokens(vec![1]),
            num_samples: 1,
            params: SamplingParams {
                stop: Some(StopCondition::Tokens(vec![151645, 2])),
                ..SamplingParams::default()
            },
            prompt_logprobs: false,
            topk_prompt_logprobs: 0,
        };
        let body = String::from_utf8(sub.body("s", 3)).unwrap();
        assert!(
            body.contains(
                r#""sampling_params":{"stop":[151645,2],"temperature":1.0,"top_k":-1,"top_p":1.0}"#
            ),
            "{body}"
        );
        assert!(body.contains(r#""seq_id":3"#));
    }
}
