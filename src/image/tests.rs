//! Reading images within bounds, data: URLs, and keeping bytes out of `Debug`.

use super::*;

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend(width.to_be_bytes());
    b.extend(height.to_be_bytes());
    b.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    b.extend(b"\0\0\0\0IEND\xaeB`\x82");
    b
}

#[test]
fn a_file_is_read_and_its_tokens_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cat.png");
    std::fs::write(&path, png(400, 300)).unwrap();
    let image = Image::from_file(&path).unwrap();
    assert_eq!((image.header.width, image.header.height), (400, 300));
    assert_eq!(image.expected_tokens(&Preprocessor::QWEN3_VL).unwrap(), 108);
    assert_eq!(image.bytes(), png(400, 300).as_slice());
}

#[test]
fn missing_oversized_and_too_many_pixels_say_which_limit() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.png");
    let err = Image::from_file(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("image {} does not exist", missing.display())
    );
    assert_eq!(err.exit_code(), 2);
    // A sparse file past the size limit is refused before anything is read.
    let big = dir.path().join("big.png");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(MAX_IMAGE_BYTES + 1).unwrap();
    let err = Image::from_file(&big).unwrap_err().to_string();
    assert!(
        err.ends_with("is 33554433 bytes, more than the 33554432-byte (32 MiB) limit for an image"),
        "{err}"
    );
    let err = Image::from_bytes("huge.png".into(), png(20_000, 10_000)).unwrap_err();
    assert_eq!(err.to_string(), "image huge.png declares 20000×10000 pixels, more than the limit of 178956970 pixels the server's decoder accepts");
    let wide = Image::from_bytes("wide.png".into(), png(10_000, 10)).unwrap();
    let err = wide.expected_tokens(&Preprocessor::QWEN3_VL).unwrap_err();
    assert_eq!(err.to_string(), "image wide.png has an aspect ratio of 1000.0; the model's image processor refuses more than 200");
}

#[test]
fn data_urls_decode_and_must_say_what_they_hold() {
    let b64 = STANDARD.encode(png(224, 224));
    let image =
        Image::from_data_url(&format!("data:image/png;base64,{b64}"), "m.json: message 0").unwrap();
    assert_eq!(image.header.format, Format::Png);
    assert_eq!(image.origin, "m.json: message 0: the data: URL");
    let cases = [
        (
            format!("data:image/jpeg;base64,{b64}"),
            "says \"image/jpeg\" but holds a PNG image",
        ),
        (
            format!("data:image/png,{b64}"),
            "is not base64 (expected data:image/…;base64,…)",
        ),
        (
            "data:image/png;base64,!!!".to_string(),
            "holds invalid base64: ",
        ),
        (
            "nodata".to_string(),
            "is not a data: URL (data:image/png;base64,…)",
        ),
    ];
    for (url, want) in cases {
        let err = Image::from_data_url(&url, "m").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("image m: the data: URL {want}")),
            "{err}"
        );
    }
}

#[test]
fn debug_and_errors_never_show_the_bytes() {
    let mut bytes = png(8, 8);
    let iend = bytes.split_off(bytes.len() - 12);
    bytes.extend(b"SECRETPIXELS");
    bytes.extend(iend);
    let image = Image::from_bytes("x.png".into(), bytes).unwrap_or_else(|e| panic!("{e}"));
    let shown = format!("{image:?}");
    assert!(
        !shown.contains("SECRET") && !shown.contains("83, 69"),
        "{shown}"
    );
    assert!(shown.contains("<"), "{shown}");
    assert_eq!(image.base64().to_string(), STANDARD.encode(image.bytes()));
}
