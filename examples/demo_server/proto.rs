//! A sample's result and its two wire forms: JSON and the `tinker_public.SampleResponse` protobuf.

use prost::Message;
use serde_json::{json, Value};

/// Why a sequence ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// A stop string, stop token or the end-of-turn token ended it.
    Stop,
    /// `max_tokens` ended it.
    Length,
}

impl StopReason {
    /// The JSON spelling.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Stop => "stop",
            StopReason::Length => "length",
        }
    }
}

/// One sampled sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// Sampled token ids.
    pub tokens: Vec<u32>,
    /// One logprob per token, when the server sends them.
    pub logprobs: Option<Vec<f32>>,
    /// Why sampling stopped.
    pub stop_reason: StopReason,
}

/// One row of top-k prompt logprobs: `None` for the first prompt token.
pub type TopkRow = Option<Vec<(u32, f32)>>;

/// A complete sample result, independent of its encoding.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SampleResult {
    /// The sampled sequences.
    pub sequences: Vec<Sequence>,
    /// Per prompt token, `None` for the first.
    pub prompt_logprobs: Option<Vec<Option<f32>>>,
    /// Per prompt token, up to k `(token, logprob)` pairs.
    pub topk_prompt_logprobs: Option<Vec<TopkRow>>,
    /// Reported prompt cache hits.
    pub prompt_cache_hit_tokens: i32,
}

/// The protobuf message, field numbers as in docs/protocol.md.
#[derive(Clone, PartialEq, Message)]
pub struct SampleResponsePb {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub sequences: Vec<SampledSequencePb>,
    /// Field 2: float32 LE, NaN for none.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub prompt_logprobs: Option<Vec<u8>>,
    /// Field 3.
    #[prost(message, optional, tag = "3")]
    pub topk_prompt_logprobs: Option<TopkLogprobsPb>,
    /// Field 4.
    #[prost(int32, tag = "4")]
    pub prompt_cache_hit_tokens: i32,
}

/// `SampledSequence`; `stop_reason` is the enum as its int32 value (STOP = 0, LENGTH = 1).
#[derive(Clone, PartialEq, Message)]
pub struct SampledSequencePb {
    /// Field 1.
    #[prost(int32, tag = "1")]
    pub stop_reason: i32,
    /// Field 2: int32 LE.
    #[prost(bytes = "vec", tag = "2")]
    pub tokens: Vec<u8>,
    /// Field 3: float32 LE.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub logprobs: Option<Vec<u8>>,
}

/// `TopkLogprobs`: row-major `[length × k]` matrices.
#[derive(Clone, PartialEq, Message)]
pub struct TopkLogprobsPb {
    /// Field 1: int32 LE.
    #[prost(bytes = "vec", tag = "1")]
    pub token_ids: Vec<u8>,
    /// Field 2: float32 LE.
    #[prost(bytes = "vec", tag = "2")]
    pub logprobs: Vec<u8>,
    /// Field 3.
    #[prost(uint32, tag = "3")]
    pub k: u32,
    /// Field 4.
    #[prost(uint32, tag = "4")]
    pub length: u32,
}

/// The logprob that marks an empty top-k cell.
const TOPK_NONE: f32 = -99999.0;

fn f32_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(f32::to_le_bytes).collect()
}

fn i32_bytes(values: impl Iterator<Item = u32>) -> Vec<u8> {
    values.flat_map(|v| (v as i32).to_le_bytes()).collect()
}

/// The JSON form older servers send.
pub fn to_json(result: &SampleResult) -> Value {
    let sequences: Vec<Value> = result
        .sequences
        .iter()
        .map(|s| {
            json!({"tokens": s.tokens, "logprobs": s.logprobs, "stop_reason": s.stop_reason.name()})
        })
        .collect();
    let topk = result.topk_prompt_logprobs.as_ref().map(|rows| {
        rows.iter()
            .map(|row| {
                row.as_ref().map(|cells| {
                    cells
                        .iter()
                        .map(|(t, lp)| json!([t, lp]))
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
    });
    json!({
        "sequences": sequences,
        "prompt_logprobs": result.prompt_logprobs,
        "topk_prompt_logprobs": topk,
        "type": "sample",
    })
}

/// The protobuf form, encoded.
pub fn to_protobuf(result: &SampleResult) -> Vec<u8> {
    let sequences = result
        .sequences
        .iter()
        .map(|s| SampledSequencePb {
            stop_reason: match s.stop_reason {
                StopReason::Stop => 0,
                StopReason::Length => 1,
            },
            tokens: i32_bytes(s.tokens.iter().copied()),
            logprobs: s.logprobs.as_ref().map(|l| f32_bytes(l.iter().copied())),
        })
        .collect();
    let prompt_logprobs = result
        .prompt_logprobs
        .as_ref()
        .map(|l| f32_bytes(l.iter().map(|v| v.unwrap_or(f32::NAN))));
    SampleResponsePb {
        sequences,
        prompt_logprobs,
        topk_prompt_logprobs: result.topk_prompt_logprobs.as_deref().map(topk_matrix),
        prompt_cache_hit_tokens: result.prompt_cache_hit_tokens,
    }
    .encode_to_vec()
}

/// Pads rows to the widest one with (0, -99999) cells, the way real servers do.
fn topk_matrix(rows: &[TopkRow]) -> TopkLogprobsPb {
    let k = rows.iter().flatten().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(rows.len() * k);
    let mut lps = Vec::with_capacity(rows.len() * k);
    for row in rows {
        let cells = row.as_deref().unwrap_or(&[]);
        for i in 0..k {
            let (t, lp) = cells.get(i).copied().unwrap_or((0, TOPK_NONE));
            ids.push(t);
            lps.push(lp);
        }
    }
    TopkLogprobsPb {
        token_ids: i32_bytes(ids.into_iter()),
        logprobs: f32_bytes(lps.into_iter()),
        k: k as u32,
        length: rows.len() as u32,
    }
}
