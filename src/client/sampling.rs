//! The sampling client: checks a sampling call, submits it once and returns the future that waits.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use crate::client::core::Core;
use crate::client::future::{self, SampleFuture};
use crate::client::submit::{submit, Sampler, Submission};
use crate::client::transport::Request;
use crate::client::types::{string_field, ModelInput, SampleExtras, SamplerSpec, SamplingParams};
use crate::deadline::Deadline;
use crate::error::{Error, Result};

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
        let extras = SampleExtras {
            prompt_logprobs,
            topk_prompt_logprobs,
            ..SampleExtras::default()
        };
        self.sample_with(prompt, num_samples, params, extras)
    }

    /// Submits a sampling request that also asks for `extras` (prompt logprobs, top-k, …),
    /// within a step deadline starting now (see [`crate::client::Config::step_timeout`]).
    pub fn sample_with(
        &self,
        prompt: ModelInput,
        num_samples: u32,
        params: SamplingParams,
        extras: SampleExtras,
    ) -> Result<SampleFuture> {
        let deadline = self.inner.core.step_deadline();
        self.sample_by(prompt, num_samples, params, extras, deadline)
    }

    /// Like [`SamplingClient::sample_with`], with everything the sample does (credential,
    /// submission and its retries, each poll, each re-submission) ending by `deadline` (a
    /// batch line's), and never past the run's deadline.
    pub fn sample_by(
        &self,
        prompt: ModelInput,
        num_samples: u32,
        params: SamplingParams,
        extras: SampleExtras,
        deadline: Deadline,
    ) -> Result<SampleFuture> {
        let deadline = Deadline::earliest(*self.inner.core.deadline(), deadline);
        check_params(&prompt, num_samples, &params)?;
        check_extras(&prompt, &extras)?;
        let submission = Arc::new(Submission {
            prompt,
            num_samples,
            params,
            extras,
        });
        let cancel = Arc::new(AtomicBool::new(false));
        let request_id = submit(&self.inner, &submission, &deadline, &cancel)?;
        Ok(future::spawn(
            Arc::clone(&self.inner),
            submission,
            request_id,
            deadline,
            cancel,
        ))
    }
}

/// Scoring: the request SDK 0.38's `compute_logprobs(prompt, prompt_logprobs_last_n)` sends.
impl SamplingClient {
    /// Submits a scoring request: one sample of one token, with the logprobs of the
    /// prompt's last `last_n` tokens (all of them when `None`); read them with
    /// [`crate::client::SampleResponse::last_prompt_logprobs`].
    pub fn compute_logprobs(
        &self,
        prompt: ModelInput,
        last_n: Option<u32>,
    ) -> Result<SampleFuture> {
        self.compute_logprobs_by(prompt, last_n, self.inner.core.step_deadline())
    }

    /// Like [`SamplingClient::compute_logprobs`], ending by `deadline` (see
    /// [`SamplingClient::sample_by`]).
    pub fn compute_logprobs_by(
        &self,
        prompt: ModelInput,
        last_n: Option<u32>,
        deadline: Deadline,
    ) -> Result<SampleFuture> {
        let params = SamplingParams {
            max_tokens: Some(1),
            ..SamplingParams::default()
        };
        let extras = SampleExtras {
            prompt_logprobs: true,
            prompt_logprobs_last_n: last_n,
            ..SampleExtras::default()
        };
        self.sample_by(prompt, 1, params, extras, deadline)
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

/// The SDK's own checks on `prompt_logprobs_last_n`, made before anything is sent.
fn check_extras(prompt: &ModelInput, extras: &SampleExtras) -> Result<()> {
    let Some(n) = extras.prompt_logprobs_last_n else {
        return Ok(());
    };
    if !extras.prompt_logprobs {
        return Err(Error::input(
            "prompt_logprobs_last_n applies to prompt logprobs, which were not asked for",
        ));
    }
    let most = prompt.len().saturating_sub(1);
    if n == 0 || n as usize > most {
        return Err(Error::input(format!(
            "prompt_logprobs_last_n must be between 1 and {most} (the prompt's length − 1), got {n}"
        )));
    }
    Ok(())
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
}
