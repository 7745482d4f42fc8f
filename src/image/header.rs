//! An image's format and size, read from its first bytes (PNG's IHDR chunk, JPEG's SOFn frame
//! header) without decoding a pixel.

use std::fmt;

/// The image formats the Tinker API takes, sent as the file's own bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Portable Network Graphics.
    Png,
    /// JPEG (JFIF or EXIF).
    Jpeg,
}

impl Format {
    /// The name the wire protocol uses (`"png"`, `"jpeg"`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
        })
    }
}

/// What the header says: the format and the declared width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// PNG or JPEG.
    pub format: Format,
    /// Width in pixels (never 0).
    pub width: u32,
    /// Height in pixels (never 0).
    pub height: u32,
}

/// The formats accepted, as error messages name them.
pub const ACCEPTED: &str = "PNG or JPEG";

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_IEND: &[u8] = b"\0\0\0\0IEND\xaeB`\x82";

/// Reads the format and size from `bytes` (the whole file). The error says what was found:
/// another format by name, or what is truncated or corrupt.
pub fn read_header(bytes: &[u8]) -> Result<Header, String> {
    if bytes.starts_with(PNG_SIGNATURE) {
        return png(bytes);
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return jpeg(bytes);
    }
    Err(match sniff_other(bytes) {
        Some(name) => format!("is a {name} image; only {ACCEPTED} images are accepted"),
        None if bytes.is_empty() => format!("is empty; expected a {ACCEPTED} image"),
        None => format!("is not a {ACCEPTED} image (unrecognised format)"),
    })
}

/// Names formats people commonly try, so the refusal says what the file is.
fn sniff_other(bytes: &[u8]) -> Option<&'static str> {
    let at = |i: usize, s: &[u8]| bytes.get(i..i + s.len()) == Some(s);
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("GIF")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("WebP")
    } else if at(0, b"BM") {
        Some("BMP")
    } else if at(0, b"II*\0") || at(0, b"MM\0*") {
        Some("TIFF")
    } else if at(4, b"ftypavif") {
        Some("AVIF")
    } else if at(4, b"ftypheic") || at(4, b"ftypheix") || at(4, b"ftypmif1") {
        Some("HEIC")
    } else {
        None
    }
}

fn png(bytes: &[u8]) -> Result<Header, String> {
    // Signature, then the first chunk must be IHDR: length 13, width, height (big-endian).
    let ihdr = bytes
        .get(8..24)
        .ok_or("is a truncated PNG image (it ends inside the IHDR header)")?;
    if &ihdr[0..8] != b"\0\0\0\x0dIHDR" {
        return Err("is a corrupt PNG image (its first chunk is not IHDR)".into());
    }
    let width = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
    let height = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(format!(
            "is a corrupt PNG image (it declares {width}×{height} pixels)"
        ));
    }
    if !bytes.ends_with(PNG_IEND) {
        return Err("is a truncated PNG image (it does not end with the IEND chunk)".into());
    }
    Ok(Header {
        format: Format::Png,
        width,
        height,
    })
}

/// Walks the JPEG's marker segments up to the first frame header (SOF0–SOF15 except DHT, JPG
/// and DAC). APPn segments — an EXIF thumbnail is a whole JPEG inside APP1 — are skipped by
/// their length, so the thumbnail's own frame header is never read.
fn jpeg(bytes: &[u8]) -> Result<Header, String> {
    const TRUNCATED: &str = "is a truncated JPEG image (it ends before the frame header)";
    let mut at = 2;
    loop {
        // Any number of 0xFF fill bytes may precede a marker code.
        if *bytes.get(at).ok_or(TRUNCATED)? != 0xff {
            return Err("is a corrupt JPEG image (a marker was expected)".into());
        }
        while bytes.get(at) == Some(&0xff) {
            at += 1;
        }
        let marker = *bytes.get(at).ok_or(TRUNCATED)?;
        at += 1;
        // Standalone markers carry no length.
        if marker == 0x01 || (0xd0..=0xd7).contains(&marker) {
            continue;
        }
        if marker == 0xd9 || marker == 0xda || marker == 0xd8 {
            return Err("is a corrupt JPEG image (no frame header before the image data)".into());
        }
        let len = bytes.get(at..at + 2).ok_or(TRUNCATED)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 2 {
            return Err("is a corrupt JPEG image (a segment length below 2)".into());
        }
        if is_frame_header(marker) {
            let frame = bytes.get(at + 2..at + 7).ok_or(TRUNCATED)?;
            let height = u32::from(u16::from_be_bytes([frame[1], frame[2]]));
            let width = u32::from(u16::from_be_bytes([frame[3], frame[4]]));
            if width == 0 || height == 0 {
                // Height 0 means "defined later by a DNL marker", which PIL does not support.
                return Err(format!(
                    "is a corrupt JPEG image (its frame header declares {width}×{height} pixels)"
                ));
            }
            return Ok(Header {
                format: Format::Jpeg,
                width,
                height,
            });
        }
        at += len;
    }
}

fn is_frame_header(marker: u8) -> bool {
    (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PNG: signature, IHDR, IEND (enough for the header reader).
    pub(crate) fn png_bytes(width: u32, height: u32) -> Vec<u8> {
        let mut b = PNG_SIGNATURE.to_vec();
        b.extend(b"\0\0\0\x0dIHDR");
        b.extend(width.to_be_bytes());
        b.extend(height.to_be_bytes());
        b.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        b.extend(PNG_IEND);
        b
    }

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xff, marker];
        s.extend(((body.len() + 2) as u16).to_be_bytes());
        s.extend(body);
        s
    }

    fn sof(width: u16, height: u16) -> Vec<u8> {
        let mut body = vec![8];
        body.extend(height.to_be_bytes());
        body.extend(width.to_be_bytes());
        body.extend([1, 1, 0x11, 0]);
        segment(0xc0, &body)
    }

    #[test]
    fn png_size_from_ihdr() {
        let h = read_header(&png_bytes(400, 300)).unwrap();
        assert_eq!((h.format, h.width, h.height), (Format::Png, 400, 300));
    }

    #[test]
    fn jpeg_skips_an_exif_thumbnail_in_app1() {
        // APP1 holds a complete JPEG thumbnail (160×120) with its own SOF0.
        let mut thumb = vec![0xff, 0xd8];
        thumb.extend(sof(160, 120));
        thumb.extend([0xff, 0xd9]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(&thumb);
        let mut jpeg = vec![0xff, 0xd8];
        jpeg.extend(segment(0xe0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        jpeg.extend(segment(0xe1, &app1));
        jpeg.extend(segment(0xdb, &[0; 65]));
        jpeg.extend([0xff, 0xff]); // fill bytes
        jpeg.extend(sof(4000, 3000));
        jpeg.extend(segment(0xda, &[0; 8]));
        jpeg.extend([0xff, 0xd9]);
        let h = read_header(&jpeg).unwrap();
        assert_eq!((h.format, h.width, h.height), (Format::Jpeg, 4000, 3000));
        // A progressive frame (SOF2) counts too; DHT (0xC4) does not.
        let mut progressive = vec![0xff, 0xd8];
        progressive.extend(segment(0xc4, &[0; 20]));
        let mut frame = sof(17, 9);
        frame[1] = 0xc2;
        progressive.extend(frame);
        assert_eq!(read_header(&progressive).unwrap().width, 17);
    }

    #[test]
    fn other_formats_truncation_and_corruption_are_named() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"GIF89a\x01\0\x01\0".to_vec(),
                "is a GIF image; only PNG or JPEG images are accepted",
            ),
            (
                b"RIFF\0\0\0\0WEBPVP8 ".to_vec(),
                "is a WebP image; only PNG or JPEG images are accepted",
            ),
            (
                b"hello".to_vec(),
                "is not a PNG or JPEG image (unrecognised format)",
            ),
            (vec![], "is empty; expected a PNG or JPEG image"),
            (
                png_bytes(4, 4)[..20].to_vec(),
                "is a truncated PNG image (it ends inside the IHDR header)",
            ),
            (
                png_bytes(4, 4)[..40].to_vec(),
                "is a truncated PNG image (it does not end with the IEND chunk)",
            ),
            (
                png_bytes(0, 4),
                "is a corrupt PNG image (it declares 0×4 pixels)",
            ),
            (
                vec![0xff, 0xd8, 0xff, 0xe0, 0x00],
                "is a truncated JPEG image (it ends before the frame header)",
            ),
            (
                [vec![0xff, 0xd8], segment(0xe0, &[0; 300])[..100].to_vec()].concat(),
                "is a truncated JPEG image (it ends before the frame header)",
            ),
            (
                [vec![0xff, 0xd8], segment(0xda, &[0; 4])].concat(),
                "is a corrupt JPEG image (no frame header before the image data)",
            ),
            (
                [vec![0xff, 0xd8], sof(0, 5)].concat(),
                "is a corrupt JPEG image (its frame header declares 0×5 pixels)",
            ),
            (
                [vec![0xff, 0xd8, 0xff, 0xe0, 0, 1]].concat(),
                "is a corrupt JPEG image (a segment length below 2)",
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(read_header(&bytes).unwrap_err(), want);
        }
    }
}
