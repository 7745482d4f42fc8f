//! Images in a chat prompt on the command line: the `--image` user message, every image loaded
//! before any request, the rendered prompt cut into text and image chunks, and the chunk
//! layout `--print-prompt --json` shows (never the image data).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::chat::{self, Message, Segment};
use crate::client::{Chunk, ImageChunk, ModelInput};
use crate::error::{Error, Result};
use crate::image::{Image, Preprocessor};

/// The most images one conversation may hold (each may be up to 32 MiB).
pub const MAX_IMAGES: usize = 64;

/// The user message `--image` builds: the images, then the text, as content parts.
pub fn user_message(images: &[PathBuf], text: Option<&str>) -> Message {
    let mut parts: Vec<Value> = images
        .iter()
        .map(|p| json!({"type": "image", "path": p.display().to_string()}))
        .collect();
    if let Some(text) = text {
        parts.push(json!({"type": "text", "text": text}));
    }
    Message {
        role: "user".into(),
        content: Value::Array(parts),
        extra: Map::new(),
    }
}

/// Every image of a conversation, in message and part order: the image parts of `given`
/// (paths relative to `base_dir`; `origin` names the messages), then the `--image` files.
/// The count is bounded before any file is opened.
pub fn load(
    given: &[Message],
    base_dir: &Path,
    origin: &str,
    flags: &[PathBuf],
) -> Result<Vec<Arc<Image>>> {
    let count = image_parts(given) + flags.len();
    if count > MAX_IMAGES {
        return Err(Error::input(format!(
            "{origin} holds {count} images; a prompt takes at most {MAX_IMAGES}"
        )));
    }
    let mut images = chat::load_images(given, base_dir, origin)?;
    for path in flags {
        images.push(Image::from_file(path)?);
    }
    Ok(images.into_iter().map(Arc::new).collect())
}

/// How many image parts `messages` hold.
pub fn image_parts(messages: &[Message]) -> usize {
    messages
        .iter()
        .filter_map(|m| m.content.as_array())
        .flatten()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("image"))
        .count()
}

/// The rendered prompt `text` as chunks: the text around each image placeholder encoded with
/// `encode`, each image with the token count the server will expect for it.
pub fn encode(
    text: &str,
    images: &[Arc<Image>],
    processor: &Preprocessor,
    encode: &dyn Fn(&str) -> Result<Vec<u32>>,
) -> Result<ModelInput> {
    let mut chunks = Vec::new();
    for segment in chat::split_at_images(text, images.len())? {
        match segment {
            Segment::Text(piece) => chunks.push(Chunk::Text(encode(&piece)?)),
            Segment::Image(n) => {
                let image = images
                    .get(n)
                    .ok_or_else(|| Error::Unexpected(format!("no image {n} for a placeholder")))?;
                let expected_tokens = image.expected_tokens(processor)?;
                chunks.push(Chunk::Image(ImageChunk {
                    image: Arc::clone(image),
                    expected_tokens,
                }));
            }
        }
    }
    Ok(ModelInput::from_chunks(chunks))
}

/// The tokens the prompt's images take.
pub fn image_tokens(input: &ModelInput) -> u64 {
    input.images().iter().map(|(_, i)| i.expected_tokens).sum()
}

/// The prompt's chunks as `--print-prompt --json` shows them: kinds, token counts, and each
/// image's origin, format, size and byte count; never its data.
pub fn layout(input: &ModelInput) -> Value {
    let text = |n: usize| json!({"type": "text", "tokens": n});
    let mut chunks = Vec::new();
    let mut from = 0;
    for (at, chunk) in input.images() {
        if *at > from {
            chunks.push(text(at - from));
        }
        let image = &chunk.image;
        chunks.push(json!({
            "type": "image",
            "tokens": chunk.expected_tokens,
            "format": image.header.format.wire_name(),
            "width": image.header.width,
            "height": image.header.height,
            "bytes": image.bytes().len(),
            "source": image.origin,
        }));
        from = *at;
    }
    if from < input.tokens().len() {
        chunks.push(text(input.tokens().len() - from));
    }
    Value::Array(chunks)
}
