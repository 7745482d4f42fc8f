//! The demo server takes image chunks and checks `expected_tokens` with the server's rule.

use base64::Engine;
use serde_json::json;

use crate::demo::DemoConfig;
use crate::image_goldens::png;
use crate::support::demo_api::{asample_body, params, Api};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn image_chunks_are_sampled_and_a_wrong_count_is_refused_as_the_server_does() {
    let api = Api::start(DemoConfig::default());
    let (_, ssid) = api.setup();
    let with_image = |data: String, format: &str, expected: u64| {
        let mut body = asample_body(&ssid, 0, 1, params(Some(4)));
        body["prompt"]["chunks"] = json!([
            {"tokens": [9707, 151652], "type": "encoded_text"},
            {"data": data, "format": format, "expected_tokens": expected, "type": "image"},
            {"tokens": [151653, 11], "type": "encoded_text"},
        ]);
        body
    };
    let got = api.asample(&with_image(b64(&png(224, 224)), "png", 64));
    assert_eq!(got.status, 200, "{}", got.detail());
    let got = api.asample(&with_image(b64(&png(224, 224)), "png", 63));
    assert_eq!(
        (got.status, got.detail()),
        (400, "Expected 63 tokens, got 64 from image".to_string())
    );
    let got = api.asample(&with_image(b64(&png(224, 224)), "jpeg", 64));
    assert_eq!(got.status, 400);
    assert!(
        got.detail()
            .contains("`format` says \"jpeg\" but the data is png"),
        "{}",
        got.detail()
    );
    let got = api.asample(&with_image(b64(b"GIF89a\x01\0\x01\0"), "png", 64));
    assert_eq!(got.status, 400);
    assert!(got.detail().contains("is a GIF image"), "{}", got.detail());
    let got = api.asample(&with_image(b64(&png(1000, 2)), "png", 64));
    assert!(
        got.detail().contains("aspect ratio of 500.0"),
        "{}",
        got.detail()
    );
}
