//! Images in a prompt: a PNG or JPEG read once within bounds, its format and size from its
//! header, and the token count the server will expect for it. A leaf module: it imports
//! nothing of `cli`, `client`, `tokenizer` or `chat`.
//!
//! Image bytes are never printed or logged: [`Image`]'s `Debug` names the origin, format and
//! size only.

mod header;
mod tokens;

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Error, Result};

pub use header::{read_header, Format, Header, ACCEPTED};
pub use tokens::{Preprocessor, MAX_ASPECT_RATIO, PREPROCESSOR_FILE};

/// The largest image file sent (the bytes, before base64).
pub const MAX_IMAGE_BYTES: u64 = 32 << 20;
/// The most pixels an image may declare: PIL, which decodes it on the server, refuses more
/// (twice its decompression-bomb threshold of 89,478,485).
pub const MAX_PIXELS: u64 = 178_956_970;

/// One image for a prompt: its bytes as they are in the file, and what its header says.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// The file path or `data: URL` (shortened), as errors name it.
    pub origin: String,
    /// The header: format, width and height.
    pub header: Header,
    bytes: Vec<u8>,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes are elided on purpose: an image never reaches a log.
        f.debug_struct("Image")
            .field("origin", &self.origin)
            .field("header", &self.header)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .finish()
    }
}

impl Image {
    /// Reads the image at `path`: its size is checked before reading, the read stops past
    /// the limit (a file that grows meanwhile), and the header is checked afterwards.
    pub fn from_file(path: &Path) -> Result<Image> {
        let origin = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| image_error(&origin, &open_reason(&e)))?;
        let size = file
            .metadata()
            .map_err(|e| image_error(&origin, &format!("cannot be read: {e}")))?
            .len();
        if size > MAX_IMAGE_BYTES {
            return Err(too_large(&origin, size));
        }
        // The one size-limited reader: a file that grows past the limit while read still stops.
        let mut file = file;
        let bytes =
            crate::bounded::read_all(&mut file, MAX_IMAGE_BYTES as usize, || {}).map_err(|e| {
                match crate::bounded::exceeded(&e) {
                    Some(_) => too_large(&origin, MAX_IMAGE_BYTES + 1),
                    None => image_error(&origin, &format!("cannot be read: {e}")),
                }
            })?;
        Image::from_bytes(origin, bytes)
    }

    /// Decodes a `data:image/png;base64,…` or `data:image/jpeg;base64,…` URL; the declared
    /// type must match the bytes. `where_` names the URL's place in errors (`m.json: message 2`).
    pub fn from_data_url(url: &str, where_: &str) -> Result<Image> {
        let origin = format!("{where_}: the data: URL");
        let (meta, data) = url
            .strip_prefix("data:")
            .and_then(|rest| rest.split_once(','))
            .ok_or_else(|| image_error(&origin, "is not a data: URL (data:image/png;base64,…)"))?;
        let Some(mime) = meta.strip_suffix(";base64") else {
            return Err(image_error(
                &origin,
                "is not base64 (expected data:image/…;base64,…)",
            ));
        };
        // Bounded before decoding: base64 holds 3 bytes per 4 characters.
        if data.len() as u64 / 4 * 3 > MAX_IMAGE_BYTES {
            return Err(too_large(&origin, data.len() as u64 / 4 * 3));
        }
        let bytes = STANDARD
            .decode(data.trim_end())
            .map_err(|e| image_error(&origin, &format!("holds invalid base64: {e}")))?;
        let image = Image::from_bytes(origin, bytes)?;
        let declared = mime.to_ascii_lowercase();
        let matches = match image.header.format {
            Format::Png => declared == "image/png",
            Format::Jpeg => declared == "image/jpeg" || declared == "image/jpg",
        };
        if !matches {
            let found = image.header.format;
            return Err(image_error(
                &image.origin,
                &format!("says {mime:?} but holds a {found} image"),
            ));
        }
        Ok(image)
    }

    /// Checks `bytes` (a whole PNG or JPEG file) and keeps them; `origin` names them in errors.
    pub fn from_bytes(origin: String, bytes: Vec<u8>) -> Result<Image> {
        let header = read_header(&bytes).map_err(|why| image_error(&origin, &why))?;
        let pixels = u64::from(header.width) * u64::from(header.height);
        if pixels > MAX_PIXELS {
            let why = format!(
                "declares {}×{} pixels, more than the limit of {MAX_PIXELS} pixels the server's decoder accepts",
                header.width, header.height
            );
            return Err(image_error(&origin, &why));
        }
        Ok(Image {
            origin,
            header,
            bytes,
        })
    }

    /// The file's bytes, as sent.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The token count the server computes for this image with `processor`'s settings.
    pub fn expected_tokens(&self, processor: &Preprocessor) -> Result<u64> {
        processor
            .expected_tokens(self.header.width, self.header.height)
            .map_err(|why| image_error(&self.origin, &why))
    }

    /// The bytes as base64, written straight into a formatter (no intermediate string).
    pub fn base64(&self) -> impl fmt::Display + '_ {
        base64::display::Base64Display::new(&self.bytes, &STANDARD)
    }
}

/// The image settings of `model` from its `preprocessor_config.json` (`found`: origin and
/// bytes, as the tokenizer's files are found); a model without one takes no images.
pub fn preprocessor_for(model: &str, found: Option<(&str, &[u8])>) -> Result<Preprocessor> {
    let Some((origin, bytes)) = found else {
        return Err(Error::Input {
            message: format!("{model} takes no images: its repository has no {PREPROCESSOR_FILE}"),
            hint: Some(
                "images work with vision models such as Qwen/Qwen3-VL-30B-A3B-Instruct".into(),
            ),
        });
    };
    Preprocessor::parse(bytes, origin).map_err(Error::input)
}

/// A user error about an image: the origin first, then what is wrong.
fn image_error(origin: &str, why: &str) -> Error {
    Error::Input {
        message: format!("image {origin} {why}"),
        hint: Some(format!("images must be {ACCEPTED} files of at most 32 MiB")),
    }
}

fn too_large(origin: &str, size: u64) -> Error {
    let why = format!(
        "is {size} bytes, more than the {MAX_IMAGE_BYTES}-byte (32 MiB) limit for an image"
    );
    image_error(origin, &why)
}

fn open_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".into(),
        _ => format!("cannot be read: {e}"),
    }
}

#[cfg(test)]
mod tests;
