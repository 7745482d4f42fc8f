//! `run --input`'s lines on the batch engine: each prompt sampled, its sequences the record.

use serde_json::{json, Map, Value};

use super::engine::{LineKind, Worker};
use super::input::BatchItem;
use super::validate::RunLines;
use crate::cli::output::{sequence_value, TextDecoder};
use crate::client::SampleResponse;
use crate::error::Result;
use crate::tokenizer::Tokenizer;
use crate::Deadline;

impl LineKind for RunLines {
    const NAMES: (&'static str, &'static str) = ("prompt", "sampled");
    const RESUMING: (&'static str, &'static str, &'static str) =
        ("prompts", "already done", "to sample");

    fn process(&self, item: &BatchItem, worker: &Worker, deadline: Deadline) -> Result<String> {
        let config = worker.config;
        let encoded = worker.encoder.encode(item)?;
        let prompt_tokens = encoded.input.len();
        let mut params = item.params.clone();
        params.stop = encoded.stop;
        let future = worker.sampler.sample_by(
            encoded.input,
            item.num_samples,
            params,
            config.extras(item.topk_logprobs),
            deadline,
        )?;
        let response = future.wait(None)?;
        crate::cli::token_totals::BATCH.add(prompt_tokens, &response);
        success_line(
            item,
            (prompt_tokens, encoded.chat),
            &response,
            worker.tokenizer.filter(|_| !config.output.tokens_only),
        )
    }
}

/// The output line of a success; `prompt` is the prompt's token count and chat entry.
fn success_line(
    item: &BatchItem,
    prompt: (usize, Option<Value>),
    response: &SampleResponse,
    tokenizer: Option<&Tokenizer>,
) -> Result<String> {
    let decoder = tokenizer.map(|t| t as &dyn TextDecoder);
    let sequences = response
        .sequences
        .iter()
        .map(|s| sequence_value(s, decoder))
        .collect::<Result<Vec<_>>>()?;
    let mut line = Map::new();
    line.insert("id".into(), item.id.clone());
    line.insert("line".into(), json!(item.line));
    line.insert("prompt_tokens".into(), json!(prompt.0));
    if let Some(chat) = prompt.1 {
        line.insert("chat".into(), chat);
    }
    line.insert("sequences".into(), Value::Array(sequences));
    if let Some(logprobs) = &response.prompt_logprobs {
        line.insert("prompt_logprobs".into(), json!(logprobs));
    }
    if let Some(topk) = &response.topk_prompt_logprobs {
        line.insert("topk_prompt_logprobs".into(), json!(topk));
    }
    Ok(Value::Object(line).to_string())
}
