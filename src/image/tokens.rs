//! How many tokens the server turns an image into: the model's `preprocessor_config.json`
//! (transformers' Qwen2-VL image processor) and its resize rule, in Python's float arithmetic.

use serde_json::Value;

/// The file, beside the tokenizer's, that says how a vision model cuts images into patches.
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";

/// transformers refuses images whose long side is more than this many times the short one.
pub const MAX_ASPECT_RATIO: f64 = 200.0;

/// The settings of the image processor that decide the token count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preprocessor {
    /// Side of one vision patch in pixels (Qwen3-VL: 16).
    pub patch_size: u64,
    /// Patches merged per side into one token (Qwen3-VL: 2).
    pub merge_size: u64,
    /// Fewest pixels after resizing (images are scaled up to it).
    pub min_pixels: u64,
    /// Most pixels after resizing (images are scaled down to it).
    pub max_pixels: u64,
}

impl Preprocessor {
    /// Qwen3-VL's settings (patch 16, merge 2, 256² to 4096² pixels); the demo server's.
    pub const QWEN3_VL: Preprocessor = Preprocessor {
        patch_size: 16,
        merge_size: 2,
        min_pixels: 65_536,
        max_pixels: 16_777_216,
    };

    /// Parses a `preprocessor_config.json`. `min_pixels`/`max_pixels` win over
    /// `size.shortest_edge`/`size.longest_edge`, as in transformers. `origin` names the file.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Preprocessor, String> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("{origin} is not valid JSON: {e}"))?;
        let field =
            |key: &str| -> Result<Option<u64>, String> {
                match value.get(key).or_else(|| size_alias(&value, key)) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                        format!("{origin}: {key} must be a positive integer, not {v}")
                    }),
                }
            };
        let need = |key: &str| {
            field(key)?.ok_or_else(|| {
                format!("{origin} has no {key}; it does not describe a Qwen-VL image processor")
            })
        };
        let config = Preprocessor {
            patch_size: need("patch_size")?,
            merge_size: need("merge_size")?,
            min_pixels: need("min_pixels")?,
            max_pixels: need("max_pixels")?,
        };
        // Bounds that keep every product below 2^53, where f64 and Python ints agree.
        if config.patch_size > 1024 || config.merge_size > 64 || config.max_pixels > 1 << 40 {
            return Err(format!(
                "{origin}: patch_size, merge_size or max_pixels is implausibly large"
            ));
        }
        if config.min_pixels > config.max_pixels {
            return Err(format!("{origin}: min_pixels is larger than max_pixels"));
        }
        Ok(config)
    }

    /// The token count the server computes for a `width`×`height` image, or why the server's
    /// processor would refuse it (aspect ratio over 200).
    pub fn expected_tokens(&self, width: u32, height: u32) -> Result<u64, String> {
        let (h, w) = smart_resize(self, u64::from(height), u64::from(width))?;
        let (grid_h, grid_w) = (h / self.patch_size, w / self.patch_size);
        Ok(grid_h * grid_w / (self.merge_size * self.merge_size))
    }
}

/// `size.shortest_edge`/`size.longest_edge` stand for `min_pixels`/`max_pixels` when those
/// keys are absent (transformers ≥ 4.5x writes only `size`).
fn size_alias<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let edge = match key {
        "min_pixels" => "shortest_edge",
        "max_pixels" => "longest_edge",
        _ => return None,
    };
    value.get("size")?.get(edge)
}

/// transformers' `smart_resize` with Python's semantics: `/` is float division, `round` rounds
/// half to even, `math.floor`/`math.ceil` of float results, int products exact. Every int here
/// stays below 2^53, so `as f64` is exact as Python's int→float conversion is.
fn smart_resize(p: &Preprocessor, height: u64, width: u64) -> Result<(u64, u64), String> {
    let (hf, wf) = (height as f64, width as f64);
    let ratio = hf.max(wf) / hf.min(wf);
    if ratio > MAX_ASPECT_RATIO {
        return Err(format!(
            "has an aspect ratio of {ratio:.1}; the model's image processor refuses more than 200"
        ));
    }
    let factor = p.patch_size * p.merge_size;
    let ff = factor as f64;
    let mut h_bar = (hf / ff).round_ties_even() as u64 * factor;
    let mut w_bar = (wf / ff).round_ties_even() as u64 * factor;
    let area = (height * width) as f64;
    if h_bar.saturating_mul(w_bar) > p.max_pixels {
        let beta = (area / p.max_pixels as f64).sqrt();
        h_bar = factor.max((hf / beta / ff).floor() as u64 * factor);
        w_bar = factor.max((wf / beta / ff).floor() as u64 * factor);
    } else if h_bar.saturating_mul(w_bar) < p.min_pixels {
        let beta = (p.min_pixels as f64 / area).sqrt();
        h_bar = (hf * beta / ff).ceil() as u64 * factor;
        w_bar = (wf * beta / ff).ceil() as u64 * factor;
    }
    Ok((h_bar, w_bar))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookbook_vectors_and_python_float_cases() {
        let p = Preprocessor::QWEN3_VL;
        for (w, h, want) in [
            (224, 224, 64),
            (150, 224, 70),
            (224, 150, 70),
            (400, 300, 108),
            // Exact arithmetic gives 64; Python's floats give 239·(256/239)/32 > 8, so 81.
            (239, 239, 81),
        ] {
            assert_eq!(p.expected_tokens(w, h).unwrap(), want, "{w}×{h}");
        }
    }

    #[test]
    fn aspect_ratio_over_200_is_refused() {
        let p = Preprocessor::QWEN3_VL;
        assert!(p.expected_tokens(200, 1).is_ok());
        let err = p.expected_tokens(201, 1).unwrap_err();
        assert_eq!(
            err,
            "has an aspect ratio of 201.0; the model's image processor refuses more than 200"
        );
    }

    #[test]
    fn config_keys_and_their_size_aliases() {
        let sized = br#"{"patch_size":16,"merge_size":2,"size":{"shortest_edge":65536,"longest_edge":16777216}}"#;
        assert_eq!(
            Preprocessor::parse(sized, "p").unwrap(),
            Preprocessor::QWEN3_VL
        );
        let both = br#"{"patch_size":14,"merge_size":2,"min_pixels":3136,"max_pixels":12845056,"size":{"shortest_edge":1,"longest_edge":2}}"#;
        let p = Preprocessor::parse(both, "p").unwrap();
        assert_eq!((p.min_pixels, p.max_pixels), (3136, 12845056));
        let err = Preprocessor::parse(br#"{"patch_size":16}"#, "pc.json").unwrap_err();
        assert_eq!(
            err,
            "pc.json has no merge_size; it does not describe a Qwen-VL image processor"
        );
        let err = Preprocessor::parse(br#"{"patch_size":-1}"#, "pc.json").unwrap_err();
        assert_eq!(
            err,
            "pc.json: patch_size must be a positive integer, not -1"
        );
    }
}
