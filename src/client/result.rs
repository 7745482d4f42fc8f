//! Reading a `retrieve_future` answer: the result (protobuf or JSON), "try again", or a failure.

use serde::Deserialize;
use serde_json::Value;

use crate::client::proto;
use crate::client::status;
use crate::client::transport::Reply;
use crate::client::types::{SampleResponse, SampledSequence, StopReason, TopkRow};
use crate::client::validate::{self, Asked};
use crate::error::Error;

/// What a 2xx poll answer means.
#[derive(Debug)]
pub(crate) enum PollAnswer {
    /// The result, aligned to the prompt.
    Done(SampleResponse),
    /// Not ready; poll again at once.
    TryAgain {
        queue_state: String,
        reason: Option<String>,
    },
    /// The request failed, or the answer cannot be read.
    Failed(Error),
}

#[derive(Deserialize)]
struct JsonSequence {
    tokens: Vec<u32>,
    #[serde(default)]
    logprobs: Option<Vec<f32>>,
    stop_reason: StopReason,
    #[serde(default)]
    topk_logprobs: Option<Vec<Option<TopkRow>>>,
}

#[derive(Deserialize)]
struct JsonResponse {
    sequences: Vec<JsonSequence>,
    #[serde(default)]
    prompt_logprobs: Option<Vec<Option<f32>>>,
    #[serde(default)]
    topk_prompt_logprobs: Option<Vec<Option<TopkRow>>>,
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u32>,
}

/// Classifies a 2xx answer by its content type, never by what was asked for; a result is
/// checked against `asked` and the protocol's rules ([`validate::check`]) either way.
pub(crate) fn classify(reply: &Reply, asked: &Asked, step: &str, rid: &str) -> PollAnswer {
    let prompt_len = asked.prompt_len;
    let mut response = if reply.content_type.contains("application/x-protobuf") {
        match proto::decode_for_prompt(&reply.body, prompt_len) {
            Ok(r) => r,
            Err(what) => return PollAnswer::Failed(status::bad_answer(step, &what, Some(rid))),
        }
    } else {
        match from_json(&reply.body, step, rid) {
            Ok(r) => r,
            Err(answer) => return answer,
        }
    };
    if let Some(what) = too_many_rows(&response, prompt_len) {
        return PollAnswer::Failed(status::bad_answer(step, &what, Some(rid)));
    }
    if let Err(what) = validate::check(&response, asked) {
        return PollAnswer::Failed(status::bad_answer(step, &what, Some(rid)));
    }
    response.align_to_prompt(prompt_len);
    PollAnswer::Done(response)
}

/// Per-prompt-token arrays longer than the prompt: the answer is not for this request.
fn too_many_rows(response: &SampleResponse, prompt_len: usize) -> Option<String> {
    let rows = [
        (
            "prompt_logprobs",
            response.prompt_logprobs.as_ref().map(Vec::len),
        ),
        (
            "topk_prompt_logprobs",
            response.topk_prompt_logprobs.as_ref().map(Vec::len),
        ),
    ];
    rows.into_iter().find_map(|(what, len)| {
        let len = len.filter(|len| *len > prompt_len)?;
        Some(format!(
            "{what} has {len} rows for a prompt of {prompt_len} tokens"
        ))
    })
}

fn from_json(body: &[u8], step: &str, rid: &str) -> Result<SampleResponse, PollAnswer> {
    let bad = |what: String| PollAnswer::Failed(status::bad_answer(step, &what, Some(rid)));
    let value: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON ({e})")))?;
    if value.get("type").and_then(Value::as_str) == Some("try_again") {
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(String::from);
        return Err(PollAnswer::TryAgain {
            queue_state: text("queue_state").unwrap_or_else(|| "active".to_string()),
            reason: text("queue_state_reason"),
        });
    }
    if let Some(err) = status::error_field(step, &value, Some(rid)) {
        return Err(PollAnswer::Failed(err));
    }
    if value.get("status").and_then(Value::as_str) == Some("complete_metadata") {
        return Err(bad("metadata only, which tinkex never asks for".to_string()));
    }
    let json: JsonResponse =
        serde_json::from_value(value).map_err(|e| bad(format!("unexpected shape ({e})")))?;
    Ok(SampleResponse {
        sequences: json
            .sequences
            .into_iter()
            .map(|s| SampledSequence {
                stop_reason: s.stop_reason,
                tokens: s.tokens,
                logprobs: s.logprobs,
                topk_logprobs: s.topk_logprobs,
            })
            .collect(),
        prompt_logprobs: json.prompt_logprobs,
        topk_prompt_logprobs: json.topk_prompt_logprobs,
        prompt_cache_hit_tokens: json.prompt_cache_hit_tokens.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(len: usize) -> Asked {
        Asked {
            prompt_len: len,
            ..Asked::unknown()
        }
    }

    #[test]
    fn json_and_protobuf_go_through_the_same_check() {
        let body = r#"{"sequences":[{"tokens":[5],"logprobs":[0.5],"stop_reason":"length"}]}"#;
        let PollAnswer::Failed(err) = classify(&json_reply(body), &prompt(1), "s", "r") else {
            panic!("expected a failure");
        };
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(err.to_string().contains("is 0.5, not a logprob"), "{err}");
        let two = r#"{"sequences":[{"tokens":[5],"stop_reason":"length"},{"tokens":[6],"stop_reason":"length"}]}"#;
        let one_sample = Asked {
            num_samples: 1,
            ..prompt(1)
        };
        let PollAnswer::Failed(err) = classify(&json_reply(two), &one_sample, "s", "r") else {
            panic!("expected a failure");
        };
        assert!(
            err.to_string().contains("2 sequences for 1 sample"),
            "{err}"
        );
        // Protobuf: a sequence (field 1) with a logprob of +inf (field 3, packed f32).
        let mut reply = json_reply("");
        reply.content_type = "application/x-protobuf".into();
        let inf = f32::INFINITY.to_le_bytes();
        let seq = [&[0x12, 0x04, 5, 0, 0, 0, 0x1a, 0x04][..], &inf[..]].concat();
        reply.body = [&[0x0a, seq.len() as u8][..], &seq[..]].concat();
        let PollAnswer::Failed(err) = classify(&reply, &prompt(1), "s", "r") else {
            panic!("expected a failure");
        };
        assert!(err.to_string().contains("is inf, not a logprob"), "{err}");
    }

    fn json_reply(body: &str) -> Reply {
        Reply {
            status: 200,
            content_type: "application/json".into(),
            retry_after: None,
            www_authenticate: String::new(),
            location: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn short_prompt_logprobs_are_aligned_to_the_end() {
        let body = r#"{"sequences":[{"tokens":[5],"logprobs":null,"stop_reason":"length"}],
            "prompt_logprobs":[-0.5,-1.5],"topk_prompt_logprobs":[[[3,-0.1]],[[4,-0.2]]],"type":"sample"}"#;
        let PollAnswer::Done(r) = classify(&json_reply(body), &prompt(3), "s", "r") else {
            panic!("expected a result");
        };
        assert_eq!(r.prompt_logprobs, Some(vec![None, Some(-0.5), Some(-1.5)]));
        assert_eq!(
            r.topk_prompt_logprobs,
            Some(vec![None, Some(vec![(3, -0.1)]), Some(vec![(4, -0.2)])])
        );
        assert_eq!(r.sequences[0].stop_reason, StopReason::Length);
    }

    #[test]
    fn try_again_and_errors() {
        let body = r#"{"type":"try_again","request_id":"r","queue_state":"paused_capacity","queue_state_reason":"busy"}"#;
        match classify(&json_reply(body), &prompt(1), "s", "r") {
            PollAnswer::TryAgain {
                queue_state,
                reason,
            } => {
                assert_eq!(queue_state, "paused_capacity");
                assert_eq!(reason.as_deref(), Some("busy"));
            }
            other => panic!("{other:?}"),
        }
        let body = r#"{"error":"prompt too long","category":"user"}"#;
        let PollAnswer::Failed(err) = classify(&json_reply(body), &prompt(1), "s", "r9") else {
            panic!("expected a failure");
        };
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("request id r9"));
    }

    #[test]
    fn rows_past_the_prompt_are_a_server_error() {
        let body = r#"{"sequences":[],"prompt_logprobs":[-0.5,-1.5,-2.5]}"#;
        let PollAnswer::Failed(err) = classify(&json_reply(body), &prompt(2), "s", "r") else {
            panic!("expected a failure");
        };
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(
            err.to_string().contains("3 rows for a prompt of 2 tokens"),
            "{err}"
        );
        let mut reply = json_reply("");
        reply.content_type = "application/x-protobuf".into();
        // A top-k block of k = 0 and length 0xFFFFFFFF (see proto.rs).
        reply.body = vec![0x1a, 0x08, 0x18, 0x00, 0x20, 0xff, 0xff, 0xff, 0xff, 0x0f];
        let PollAnswer::Failed(err) = classify(&reply, &prompt(2), "s", "r") else {
            panic!("expected a failure");
        };
        assert_eq!(err.exit_code(), 4, "{err}");
    }

    #[test]
    fn hostile_error_text_is_escaped_and_capped() {
        let body = format!(
            r#"{{"error":"\u001b]0;pwned\u0007{}","category":"user"}}"#,
            "e".repeat(5000)
        );
        let PollAnswer::Failed(err) = classify(&json_reply(&body), &prompt(1), "s", "r\u{1b}[2J")
        else {
            panic!("expected a failure");
        };
        let text = err.to_string();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert!(text.contains("\\u{1b}]0;pwned\\u{7}"), "{text}");
        assert!(text.len() < 1200, "{}", text.len());
    }
}
