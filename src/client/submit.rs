//! One submission: the `asample` body, and sending it with its retry rules until the
//! server accepts it (also used by the future to re-submit after a 410).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::client::core::{fatal_reply, Core, Failure};
use crate::client::retry::{self, Billing, VirtualClock};
use crate::client::status::{self, Last};
use crate::client::transport::Request;
use crate::client::types::{
    string_field, to_json, ModelInput, SampleExtras, SamplerSpec, SamplingParams, StopCondition,
};
use crate::deadline::Deadline;
use crate::error::{Error, Result};

const SUBMIT_STEP: &str = "submitting the sample request";

/// What a sampling client and its futures share.
pub(crate) struct Sampler {
    pub core: Arc<Core>,
    pub id: String,
    pub spec: SamplerSpec,
    pub next_seq: AtomicU64,
}

/// One sampling request, kept so it can be re-submitted after a 410.
pub(crate) struct Submission {
    pub prompt: ModelInput,
    pub num_samples: u32,
    pub params: SamplingParams,
    pub extras: SampleExtras,
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
    prompt: &'a ModelInput,
    sampling_params: Params<'a>,
    sampling_session_id: &'a str,
    seq_id: u64,
    prompt_logprobs: bool,
    topk_prompt_logprobs: u32,
    // The SDK's key order; both are sent only when asked for, so other bodies stay as they were.
    #[serde(skip_serializing_if = "is_zero")]
    topk_sample_logprobs: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_logprobs_last_n: Option<u32>,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Submission {
    /// What this submission asked for, which bounds what its result may hold.
    pub(crate) fn asked(&self) -> crate::client::validate::Asked {
        crate::client::validate::Asked {
            num_samples: self.num_samples,
            prompt_len: self.prompt.len(),
            topk_prompt: self.extras.topk_prompt_logprobs,
            topk_sample: self.extras.topk_sample_logprobs,
        }
    }

    /// The exact `asample` body for this submission.
    pub(crate) fn body(&self, sampling_session_id: &str, seq_id: u64) -> Vec<u8> {
        let p = &self.params;
        let stop = p.stop.as_ref().map(|s| match s {
            StopCondition::Strings(v) => Stop::Strings(v),
            StopCondition::Tokens(v) => Stop::Tokens(v),
        });
        to_json(&Asample {
            num_samples: self.num_samples,
            prompt: &self.prompt,
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
            prompt_logprobs: self.extras.prompt_logprobs,
            topk_prompt_logprobs: self.extras.topk_prompt_logprobs,
            topk_sample_logprobs: self.extras.topk_sample_logprobs,
            prompt_logprobs_last_n: self.extras.prompt_logprobs_last_n,
            kind: "sample",
        })
    }
}

/// Sends one submission (a new `seq_id`) with the `asample` retry rules; the request id.
/// Every attempt, credential and wait ends by `deadline` (the line's); once `stop` is set
/// (the caller gave up) nothing more is sent.
pub(crate) fn submit(
    sampler: &Sampler,
    submission: &Submission,
    deadline: &Deadline,
    stop: &AtomicBool,
) -> Result<String> {
    let core = &sampler.core;
    let policy = &core.config.retry;
    let seq_id = sampler.next_seq.fetch_add(1, Ordering::SeqCst);
    let req = asample_request(submission.body(&sampler.id, seq_id));
    let body_len = req.body.as_ref().map_or(0, Vec::len);
    let mut clock = VirtualClock::start();
    let mut billing = Billing::default();
    let mut retries = 0u32;
    loop {
        deadline.check(SUBMIT_STEP)?;
        if stop.load(Ordering::SeqCst) {
            return Err(stopped());
        }
        let timeout = deadline.cap(core.config.timing.request_timeout);
        let last = match core.send_by(&req, timeout, None, false, deadline) {
            Err(Failure::Fatal(err)) => return Err(err),
            Err(Failure::Net(err)) => {
                if let Some(fatal) = core.net_fatal(SUBMIT_STEP, &err) {
                    return Err(fatal);
                }
                let window = retry::RETRY_WINDOW.saturating_sub(clock.elapsed());
                core.note_unreachable(&err, deadline, window);
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
        wait_to_retry(core, &last, &mut clock, retries, deadline, seq_id)?;
        retries += 1;
    }
}

/// After a failure worth retrying: the deadline's error or the spent retry window's, else
/// the wait before the next attempt (`retries` made so far).
fn wait_to_retry(
    core: &Core,
    last: &Last,
    clock: &mut VirtualClock,
    retries: u32,
    deadline: &Deadline,
    seq_id: u64,
) -> Result<()> {
    let cause = Some(core.last_cause(last));
    let with_cause = |e: Error| e.with_cause(cause.as_deref());
    // A request cut short by the deadline is the deadline's failure, not an exhausted retry.
    deadline.check(SUBMIT_STEP).map_err(with_cause)?;
    if clock.elapsed() >= retry::RETRY_WINDOW {
        return Err(match last {
            Last::Net(err) => core.unreachable(SUBMIT_STEP, err),
            Last::Reply(_) => status::exhausted(SUBMIT_STEP, last, None),
        });
    }
    let delay = retry::asample_delay(retries);
    log::debug!("asample: retrying seq_id {seq_id} in {delay:?}");
    core.config
        .retry
        .sleep(clock, delay, deadline, SUBMIT_STEP)
        .map_err(with_cause)
}

/// The error of a submission whose caller stopped waiting (nobody reads it).
pub(crate) fn stopped() -> Error {
    Error::Unexpected("the caller stopped waiting".to_string())
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
    fn stop_tokens_serialise_as_a_list_of_ids() {
        let sub = Submission {
            prompt: ModelInput::from_tokens(vec![1]),
            num_samples: 1,
            params: SamplingParams {
                stop: Some(StopCondition::Tokens(vec![151645, 2])),
                ..SamplingParams::default()
            },
            extras: SampleExtras::default(),
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
