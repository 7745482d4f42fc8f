//! The public data types of a sampling call: the prompt, the parameters and the result.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::status;
use crate::error::{Error, Result};
use crate::image::Image;

/// A prompt: token ids, with images between them for vision models (`encoded_text` and
/// `image` chunks on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelInput {
    /// Every text token, in order (what `tokens()` returns).
    tokens: Vec<u32>,
    /// Images and the count of text tokens before each, in order.
    images: Vec<(usize, ImageChunk)>,
}

/// One chunk of a prompt with images (see [`ModelInput::from_chunks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Token ids.
    Text(Vec<u32>),
    /// An image and the token count the server will expect for it.
    Image(ImageChunk),
}

/// An image chunk: the file's bytes (sent as base64, never logged) and its token count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChunk {
    /// The image (its `Debug` elides the bytes).
    pub image: std::sync::Arc<Image>,
    /// What the server computes for it; a mismatch is refused before sampling.
    pub expected_tokens: u64,
}

impl ModelInput {
    /// A prompt made of these token ids.
    pub fn from_tokens(tokens: Vec<u32>) -> Self {
        ModelInput {
            tokens,
            images: Vec::new(),
        }
    }

    /// A prompt of text and image chunks, in order.
    pub fn from_chunks(chunks: Vec<Chunk>) -> Self {
        let mut input = ModelInput::default();
        for chunk in chunks {
            match chunk {
                Chunk::Text(ids) => input.tokens.extend(ids),
                Chunk::Image(image) => input.images.push((input.tokens.len(), image)),
            }
        }
        input
    }

    /// The prompt's text token ids (images left out).
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The prompt's images, each with the number of text tokens before it.
    pub fn images(&self) -> &[(usize, ImageChunk)] {
        &self.images
    }

    /// The prompt's length in model positions: text tokens plus each image's tokens.
    pub fn len(&self) -> usize {
        let images: u64 = self.images.iter().map(|(_, i)| i.expected_tokens).sum();
        self.tokens.len() + images as usize
    }

    /// Whether the prompt has no tokens and no images.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.images.is_empty()
    }
}

/// `{"chunks": [...]}` as the SDK writes it: text as `{"tokens", "type"}`, images as
/// `{"data", "format", "expected_tokens", "type"}`; base64 is streamed into the body.
impl Serialize for ModelInput {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Chunks<'a>(&'a ModelInput);
        impl Serialize for Chunks<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let input = self.0;
                let mut seq = s.serialize_seq(None)?;
                let mut from = 0;
                for (at, image) in &input.images {
                    if *at > from {
                        seq.serialize_element(&TextChunk(&input.tokens[from..*at]))?;
                    }
                    seq.serialize_element(image)?;
                    from = *at;
                }
                if from < input.tokens.len() || input.images.is_empty() {
                    seq.serialize_element(&TextChunk(&input.tokens[from..]))?;
                }
                seq.end()
            }
        }
        let mut prompt = serializer.serialize_struct("ModelInput", 1)?;
        prompt.serialize_field("chunks", &Chunks(self))?;
        prompt.end()
    }
}

struct TextChunk<'a>(&'a [u32]);

impl Serialize for TextChunk<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut chunk = serializer.serialize_struct("EncodedTextChunk", 2)?;
        chunk.serialize_field("tokens", self.0)?;
        chunk.serialize_field("type", "encoded_text")?;
        chunk.end()
    }
}

impl Serialize for ImageChunk {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Data<'a>(&'a Image);
        impl Serialize for Data<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(&self.0.base64())
            }
        }
        let mut chunk = serializer.serialize_struct("ImageChunk", 4)?;
        chunk.serialize_field("data", &Data(&self.image))?;
        chunk.serialize_field("format", self.image.header.format.wire_name())?;
        chunk.serialize_field("expected_tokens", &self.expected_tokens)?;
        chunk.serialize_field("type", "image")?;
        chunk.end()
    }
}

/// A request body as logged: each `"data":"…"` string (an image chunk's base64) replaced by
/// its length, so image bytes never reach a log and a large image is not copied for one.
pub(crate) fn elide_image_data(body: &[u8]) -> String {
    const KEY: &[u8] = b"\"data\":\"";
    let mut out = Vec::with_capacity(body.len().min(1 << 16));
    let mut rest = body;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        let start = at + KEY.len();
        out.extend_from_slice(&rest[..start]);
        let len = rest[start..]
            .iter()
            .position(|&b| b == b'"')
            .unwrap_or(rest.len() - start);
        out.extend_from_slice(format!("<{len} characters of base64>").as_bytes());
        rest = &rest[start + len..];
    }
    out.extend_from_slice(rest);
    String::from_utf8_lossy(&out).into_owned()
}

/// When generation should stop, besides `max_tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopCondition {
    /// Stop when any of these strings is generated.
    Strings(Vec<String>),
    /// Stop when any of these token ids is generated.
    Tokens(Vec<u32>),
}

/// How to sample; the defaults are the server's (temperature 1, no top-k, top-p 1).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    /// Most tokens to generate per sample; `None` lets the server decide.
    pub max_tokens: Option<u32>,
    /// Seed for reproducible sampling.
    pub seed: Option<i64>,
    /// Extra stop condition.
    pub stop: Option<StopCondition>,
    /// Sampling temperature (1.0 by default).
    pub temperature: f64,
    /// Top-k cut-off; -1 turns it off (the default).
    pub top_k: i64,
    /// Nucleus cut-off (1.0 by default, i.e. off).
    pub top_p: f64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            max_tokens: None,
            seed: None,
            stop: None,
            temperature: 1.0,
            top_k: -1,
            top_p: 1.0,
        }
    }
}

/// What a sample request asks for besides the samples; every field is sent only when set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleExtras {
    /// Return a logprob per prompt token.
    pub prompt_logprobs: bool,
    /// Return the top-k alternatives per prompt token (0 = none).
    pub topk_prompt_logprobs: u32,
    /// Return the top-k alternatives per generated token (0 = none; sent only when > 0).
    pub topk_sample_logprobs: u32,
    /// Score only the last N prompt tokens (needs `prompt_logprobs`; 1 ≤ N ≤ prompt length − 1).
    pub prompt_logprobs_last_n: Option<u32>,
}

/// The top-k `(token, logprob)` pairs of one token, best first.
pub type TopkRow = Vec<(u32, f32)>;

/// Why a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopReason {
    /// A stop condition or end-of-sequence token was hit.
    Stop,
    /// `max_tokens` was reached.
    Length,
}

/// One generated sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampledSequence {
    /// Why generation ended.
    pub stop_reason: StopReason,
    /// The generated token ids.
    pub tokens: Vec<u32>,
    /// The log-probability of each generated token, when the server sent them.
    pub logprobs: Option<Vec<f32>>,
    /// Per generated token, the top-k `(token, logprob)` alternatives, when asked for
    /// (`topk_sample_logprobs`); `None` rows where the server gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topk_logprobs: Option<Vec<Option<TopkRow>>>,
}

/// The result of one sampling request, whatever form the server answered in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleResponse {
    /// One entry per requested sample.
    pub sequences: Vec<SampledSequence>,
    /// One entry per prompt token (the first has none), when asked for.
    pub prompt_logprobs: Option<Vec<Option<f32>>>,
    /// Per prompt token, the top-k `(token, logprob)` pairs, when asked for.
    pub topk_prompt_logprobs: Option<Vec<Option<TopkRow>>>,
    /// How many prompt tokens the server found in its cache.
    pub prompt_cache_hit_tokens: u32,
}

impl SampleResponse {
    /// The logprobs of the prompt's last `n` tokens: the scored suffix of a
    /// `prompt_logprobs_last_n` request. A server that ignored the field scored
    /// every token; the last `n` entries are the same either way. `None` when
    /// the server sent fewer than `n` entries or left one of them empty.
    pub fn last_prompt_logprobs(&self, n: usize) -> Option<Vec<f32>> {
        let list = self.prompt_logprobs.as_ref()?;
        let start = list.len().checked_sub(n)?;
        list[start..].iter().copied().collect()
    }

    /// Shifts per-prompt-token lists that are one shorter than the prompt so
    /// they end with the prompt (some servers leave out the first token's none).
    pub(crate) fn align_to_prompt(&mut self, prompt_len: usize) {
        if let Some(list) = &mut self.prompt_logprobs {
            if list.len() + 1 == prompt_len {
                list.insert(0, None);
            }
        }
        if let Some(list) = &mut self.topk_prompt_logprobs {
            if list.len() + 1 == prompt_len {
                list.insert(0, None);
            }
        }
    }
}

/// Which weights a sampling client uses: a base model, a `tinker://` checkpoint, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SamplerSpec {
    /// A base model name, e.g. `Qwen/Qwen3-8B`.
    pub base_model: Option<String>,
    /// A `tinker://…` checkpoint path.
    pub model_path: Option<String>,
}

impl SamplerSpec {
    /// Sample from a base model.
    pub fn base_model(name: impl Into<String>) -> Self {
        SamplerSpec {
            base_model: Some(name.into()),
            model_path: None,
        }
    }

    /// Sample from a `tinker://` checkpoint.
    pub fn model_path(path: impl Into<String>) -> Self {
        SamplerSpec {
            base_model: None,
            model_path: Some(path.into()),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(path) = &self.model_path {
            if !path.starts_with("tinker://") {
                return Err(Error::Input {
                    message: format!("invalid model path '{path}': it must start with tinker://"),
                    hint: Some(
                        "give a checkpoint path such as tinker://<run>/sampler_weights/<name>"
                            .into(),
                    ),
                });
            }
        }
        if self.base_model.is_none() && self.model_path.is_none() {
            return Err(Error::input(
                "no model given: pass a base model or a tinker:// model path",
            ));
        }
        Ok(())
    }
}

/// Compact JSON of a request body (serialising our own structs cannot fail).
pub(crate) fn to_json<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}

/// A required string field of a JSON answer.
pub(crate) fn string_field(answer: &Value, key: &str, step: &str) -> Result<String> {
    answer
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| status::bad_answer(step, &format!("no \"{key}\" field"), None))
}
