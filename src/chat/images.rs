//! Image content parts in messages: checking them as `--messages` is parsed, loading their
//! images, and cutting a rendered prompt at each image placeholder the template wrote.

use std::path::Path;

use serde_json::{Map, Value};

use super::messages::Message;
use crate::error::{Error, Result};
use crate::image::Image;

/// The placeholder Qwen-VL templates write for an image (id 151655); an image chunk takes its
/// place, between `<|vision_start|>` and `<|vision_end|>`.
pub const IMAGE_PAD: &str = "<|image_pad|>";

/// A rendered prompt cut at its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Prompt text, to be encoded as it is.
    Text(String),
    /// The n-th image of the conversation (in message and part order).
    Image(usize),
}

/// Checks one content part; `Err` says what is wrong (the caller names message and part).
/// Image parts are `{"type": "image", "path": …}` or `{"type": "image", "url": "data:…"}`.
pub(super) fn check_part(part: &Value) -> std::result::Result<(), String> {
    let Some(fields) = part.as_object() else {
        return Ok(());
    };
    match fields.get("type").and_then(Value::as_str) {
        Some("image") => check_image_part(fields),
        Some("image_url") => Err(
            "is an \"image_url\" part; write {\"type\": \"image\", \"path\": FILE} or {\"type\": \"image\", \"url\": \"data:…\"}"
                .into(),
        ),
        Some("text") if !fields.get("text").is_some_and(Value::is_string) => {
            Err("is a text part without a \"text\" string".into())
        }
        _ => Ok(()),
    }
}

fn check_image_part(fields: &Map<String, Value>) -> std::result::Result<(), String> {
    match (fields.get("path"), fields.get("url")) {
        (Some(Value::String(p)), None) if !p.is_empty() => Ok(()),
        (None, Some(Value::String(url))) => check_url(url),
        (Some(_), Some(_)) => {
            Err("is an image part with both \"path\" and \"url\"; give one".into())
        }
        _ => Err("is an image part without a \"path\" or \"url\" string".into()),
    }
}

fn check_url(url: &str) -> std::result::Result<(), String> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("data") => Ok(()),
        Some("http" | "https") => Err(format!(
            "is a remote image URL ({}); tinkex does not fetch images: download it and give its \"path\"",
            shorten(url)
        )),
        _ => Err("has an image url that is not a data: URL; give a local file as \"path\"".into()),
    }
}

/// The first 60 characters of a URL, for messages.
fn shorten(url: &str) -> String {
    match url.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &url[..at]),
        None => url.to_string(),
    }
}

/// Whether a content part is an image part.
pub(super) fn is_image_part(part: &Value) -> bool {
    part.get("type").and_then(Value::as_str) == Some("image")
}

/// Loads every image of `messages`, in order; paths are relative to `base_dir` (the messages
/// file's folder). `origin` names the messages in errors.
pub fn load_images(messages: &[Message], base_dir: &Path, origin: &str) -> Result<Vec<Image>> {
    let mut images = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let Value::Array(parts) = &message.content else {
            continue;
        };
        for (j, part) in parts.iter().enumerate().filter(|(_, p)| is_image_part(p)) {
            let image = match (part.get("path"), part.get("url")) {
                (Some(Value::String(path)), _) => Image::from_file(&base_dir.join(path)),
                (_, Some(Value::String(url))) => {
                    Image::from_data_url(url, &format!("{origin}: message {i} part {j}"))
                }
                _ => Err(Error::input(format!(
                    "{origin}: message {i} part {j} is an image part without a \"path\" or \"url\""
                ))),
            }?;
            images.push(image);
        }
    }
    Ok(images)
}

/// Cuts `text` at each [`IMAGE_PAD`]: text before it, the image, text after it. The template
/// must have written exactly one placeholder per image.
pub fn split_at_images(text: &str, images: usize) -> Result<Vec<Segment>> {
    let written = text.matches(IMAGE_PAD).count();
    if written != images {
        return Err(Error::Input {
            message: format!(
                "the chat template wrote {written} image placeholders ({IMAGE_PAD}) for {images} images"
            ),
            hint: Some(
                "images work with Qwen3-VL, Qwen3.5 and Qwen3.6 templates; keep the placeholder text out of text parts".into(),
            ),
        });
    }
    let mut segments = Vec::new();
    for (n, piece) in text.split(IMAGE_PAD).enumerate() {
        if n > 0 {
            segments.push(Segment::Image(n - 1));
        }
        if !piece.is_empty() {
            segments.push(Segment::Text(piece.to_string()));
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_are_checked() {
        assert!(check_part(&json!({"type": "image", "path": "a.png"})).is_ok());
        assert!(check_part(&json!({"type": "image", "url": "data:image/png;base64,AA"})).is_ok());
        assert!(check_part(&json!({"type": "text", "text": "hi"})).is_ok());
        let refused = [
            (json!({"type": "image", "url": "https://x.org/cat.png"}), "is a remote image URL (https://x.org/cat.png); tinkex does not fetch images: download it and give its \"path\""),
            (json!({"type": "image", "url": "HTTP://x"}), "is a remote image URL (HTTP://x); tinkex does not fetch images: download it and give its \"path\""),
            (json!({"type": "image", "url": "file:///a.png"}), "has an image url that is not a data: URL; give a local file as \"path\""),
            (json!({"type": "image"}), "is an image part without a \"path\" or \"url\" string"),
            (json!({"type": "image", "path": "a", "url": "data:"}), "is an image part with both \"path\" and \"url\"; give one"),
            (json!({"type": "text"}), "is a text part without a \"text\" string"),
        ];
        for (part, want) in refused {
            assert_eq!(check_part(&part).unwrap_err(), want);
        }
    }

    #[test]
    fn split_keeps_vision_markers_in_the_text() {
        let text = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|vision_start|><|image_pad|><|vision_end|><|im_end|>";
        let segments = split_at_images(text, 2).unwrap();
        assert_eq!(
            segments,
            [
                Segment::Text("<|im_start|>user\n<|vision_start|>".into()),
                Segment::Image(0),
                Segment::Text("<|vision_end|>Hi<|vision_start|>".into()),
                Segment::Image(1),
                Segment::Text("<|vision_end|><|im_end|>".into()),
            ]
        );
        let err = split_at_images(text, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the chat template wrote 2 image placeholders (<|image_pad|>) for 1 images"
        );
        assert_eq!(split_at_images(IMAGE_PAD, 1).unwrap(), [Segment::Image(0)]);
    }
}
