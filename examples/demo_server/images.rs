//! Image chunks in a sample request, checked as the real server checks them: the format read
//! from the bytes, and `expected_tokens` against the count computed from the image's size with
//! Qwen3-VL's settings (the rule tinkex itself uses). An image stands for that many
//! `<|image_pad|>` tokens in the demo model's prompt.

use base64::Engine;
use serde_json::{Map, Value};
use tinkex::image::{Image, Preprocessor, MAX_IMAGE_BYTES};

use super::reply::{check_fields, Answer};

/// `<|image_pad|>` in Qwen's vocabulary: what an image's positions hold here.
const IMAGE_PAD_ID: u32 = 151_655;

/// The placeholder tokens an image chunk stands for, or the answer refusing it.
pub fn image_tokens(chunk: &Map<String, Value>) -> Result<Vec<u32>, Answer> {
    let what = "asample prompt image chunk";
    check_fields(
        chunk,
        what,
        &["data", "format", "type"],
        &["expected_tokens"],
    )?;
    let bad = |message: String| Answer::detail(400, format!("{what}: {message}"));
    let data = chunk["data"]
        .as_str()
        .ok_or_else(|| bad("`data` must be a base64 string".into()))?;
    if data.len() as u64 / 4 * 3 > MAX_IMAGE_BYTES {
        return Err(bad("the image is too large".into()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| bad(format!("`data` is not valid base64: {e}")))?;
    let image = Image::from_bytes("data".into(), bytes).map_err(|e| bad(e.to_string()))?;
    let format = image.header.format.wire_name();
    match chunk["format"].as_str() {
        Some(f) if f == format => {}
        Some("png" | "jpeg") => {
            return Err(bad(format!(
                "`format` says {} but the data is {format}",
                chunk["format"]
            )))
        }
        _ => return Err(bad("`format` must be \"png\" or \"jpeg\"".into())),
    }
    let real = image
        .expected_tokens(&Preprocessor::QWEN3_VL)
        .map_err(|e| bad(e.to_string()))?;
    if let Some(expected) = chunk.get("expected_tokens") {
        let expected = expected
            .as_u64()
            .ok_or_else(|| bad("`expected_tokens` must be a non-negative integer".into()))?;
        if expected != real {
            // The real server's words (tinker-cookbook #170).
            return Err(Answer::detail(
                400,
                format!("Expected {expected} tokens, got {real} from image"),
            ));
        }
    }
    Ok(vec![IMAGE_PAD_ID; real as usize])
}
