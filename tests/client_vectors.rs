//! The protobuf vectors recorded from the official SDK, and what broken bodies do.

use mockito::Server;
use tinkex::client::{decode_protobuf_response, ModelInput, SamplingParams};

use crate::support::client::*;

const VECTORS: [&str; 6] = [
    "no_sequences",
    "one_sequence_stop",
    "prompt_logprobs_topk",
    "sampled_topk",
    "two_sequences_length",
    "unknown_fields_skipped",
];

#[test]
fn every_vector_decodes_to_its_expected_json() {
    for name in VECTORS {
        let body = fixture(&format!("vectors/{name}.pb"));
        let expected: serde_json::Value =
            serde_json::from_slice(&fixture(&format!("vectors/{name}.expected.json"))).unwrap();
        let response = decode_protobuf_response(&body).unwrap();
        assert_eq!(serde_json::to_value(&response).unwrap(), expected, "{name}");
    }
}

#[test]
fn truncated_and_corrupt_bodies_never_panic() {
    for name in VECTORS {
        let body = fixture(&format!("vectors/{name}.pb"));
        for cut in 0..body.len() {
            // A prefix may still be a valid message; it must never panic.
            let _ = decode_protobuf_response(&body[..cut]);
        }
    }
    let body = fixture("vectors/prompt_logprobs_topk.pb");
    let err = decode_protobuf_response(&body[..body.len() - 1]).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let mut state = 12345u64;
    for _ in 0..2000 {
        let len = (state % 64) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) as u8
            })
            .collect();
        let _ = decode_protobuf_response(&bytes);
    }
}

fn poll_protobuf(
    body: Vec<u8>,
    prompt_len: usize,
) -> tinkex::Result<tinkex::client::SampleResponse> {
    let mut server = Server::new();
    let log = Log::default();
    setup(&mut server, &log);
    post(
        &mut server,
        &log,
        "/api/v1/asample",
        200,
        &accepted("req-pb"),
    )
    .create();
    answer(
        &mut server,
        &log,
        "POST",
        "/api/v1/retrieve_future",
        200,
        "application/x-protobuf",
        body,
    )
    .create();
    let (_service, sampler) = connect(config(&server));
    let prompt = ModelInput::from_tokens((1..=prompt_len as u32).collect());
    sampler
        // The SDK's vectors hold up to two sequences: more than asked for is refused.
        .sample_with_prompt_logprobs(prompt, 2, SamplingParams::default(), true, 2)?
        .wait(None)
}

#[test]
fn a_protobuf_answer_is_decoded_by_content_type() {
    let response = poll_protobuf(fixture("vectors/prompt_logprobs_topk.pb"), 3).unwrap();
    assert_eq!(response.prompt_cache_hit_tokens, 5);
    assert_eq!(
        response.prompt_logprobs,
        Some(vec![None, Some(-0.75), Some(-3.0)])
    );
    assert_eq!(
        response.topk_prompt_logprobs,
        Some(vec![
            None,
            Some(vec![(17, -0.5), (18, -1.5)]),
            Some(vec![(99, -0.25)])
        ])
    );
}

#[test]
fn a_truncated_protobuf_answer_is_a_server_error_naming_the_request() {
    let body = fixture("vectors/two_sequences_length.pb");
    let err = poll_protobuf(body[..body.len() - 3].to_vec(), 1).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let text = err.to_string();
    assert!(
        text.contains("not valid") && text.contains("req-pb"),
        "{text}"
    );
}

#[test]
fn sampled_topk_from_the_sdk_vector_arrive_through_a_poll() {
    let response = poll_protobuf(fixture("vectors/sampled_topk.pb"), 4).unwrap();
    let first = &response.sequences[0];
    assert_eq!(first.tokens, vec![11, 12, 13]);
    assert_eq!(
        first.topk_logprobs,
        Some(vec![
            Some(vec![(11, -0.5), (40, -1.5), (41, -2.5)]),
            None,
            Some(vec![(13, -2.0), (7, -2.25)]),
        ])
    );
    assert_eq!(response.last_prompt_logprobs(2), Some(vec![-0.75, -1.5]));
    assert_eq!(response.last_prompt_logprobs(3), None);
}
