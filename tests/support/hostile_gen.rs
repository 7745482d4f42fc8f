//! The seeded mutations of the hostile-server suite: for an endpoint, one wrong answer drawn
//! from random statuses, `Retry-After` values, bodies (JSON and protobuf) and connection faults.

use crate::support::hostile::{Action, Ep, Plan, Rng, KEY, TOKEN};

/// Statuses a hostile server may answer with (including ones no server should send).
const STATUSES: &[u16] = &[
    200, 201, 204, 299, 301, 302, 304, 400, 401, 402, 403, 404, 405, 408, 409, 410, 413, 422, 429,
    500, 501, 502, 503, 504, 599, 600, 799,
];

/// `Retry-After` values that once panicked or must be read safely.
const RETRY_AFTERS: &[&str] = &[
    "1e20",
    "1e400",
    "18446744073709551616",
    "-1",
    "-1e20",
    "NaN",
    "inf",
    "0",
    "0.0001",
    "1e-320",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Thu, 01 Jan 2099 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "soon",
    "",
    "3, 4",
];

/// JSON bodies of the wrong shape or with out-of-range values.
const WRONG_SHAPES: &[&str] = &[
    "null",
    "true",
    "[]",
    "\"text\"",
    "123",
    "{}",
    r#"{"sequences":"x"}"#,
    r#"{"sequences":[{"tokens":[-1],"stop_reason":"length"}]}"#,
    r#"{"sequences":[{"tokens":[1e30],"stop_reason":"stop"}]}"#,
    r#"{"sequences":[{"tokens":[4294967296],"stop_reason":"stop"}]}"#,
    r#"{"sequences":[{"tokens":[1],"stop_reason":"weird"}]}"#,
    r#"{"sequences":[{"tokens":[1,2],"logprobs":[0.1],"stop_reason":"length"}]}"#,
    r#"{"sequences":[],"prompt_logprobs":[1,2,3,4,5,6,7,8,9]}"#,
    r#"{"sequences":[],"topk_prompt_logprobs":[[[1,2,3]]]}"#,
    r#"{"pjwt_auth_enabled":"yes","credential_default_source":7}"#,
    r#"{"pjwt_auth_enabled":false}"#,
    r#"{"session_id":["a"],"sampling_session_id":{"a":1},"request_id":1e999}"#,
    r#"{"session_id":"","sampling_session_id":"","request_id":""}"#,
    r#"{"jwt":42}"#,
    r#"{"jwt":"eyJ"}"#,
    r#"{"type":"try_again","queue_state":7,"queue_state_reason":[1]}"#,
    r#"{"error":null,"category":"user"}"#,
    r#"{"error":{"nested":[1,2]},"category":"user"}"#,
    r#"{"status":"complete_metadata"}"#,
    r#"{"prompt_cache_hit_tokens":-5,"sequences":[]}"#,
];

/// One planned misbehaviour of `ep`.
pub fn plan(rng: &mut Rng, ep: Ep) -> Plan {
    let every_call = rng.chance(25);
    let action = match rng.below(100) {
        0..=4 if ep != Ep::Heartbeat => Action::Stall {
            sent: rng.below(50),
        },
        0..=9 => Action::Drop,
        10..=14 => lying_length(rng),
        _ => reply(rng, ep),
    };
    Plan {
        ep,
        action,
        every_call,
    }
}

/// A body that claims to be far longer (up to 1 TB) than what is sent before the close.
fn lying_length(rng: &mut Rng) -> Action {
    let body = rng.some_bytes(64);
    let declared = Some(body.len() as u64 + 1 + rng.next() % (1 << 40));
    Action::Reply {
        status: 200,
        content_type: "application/json",
        headers: Vec::new(),
        body,
        declared,
    }
}

fn reply(rng: &mut Rng, ep: Ep) -> Action {
    let status = if rng.chance(40) {
        200
    } else {
        *rng.pick(STATUSES)
    };
    let (content_type, body) = body(rng, ep);
    let mut headers = Vec::new();
    if rng.chance(40) {
        let value = if rng.chance(80) {
            rng.pick(RETRY_AFTERS).to_string()
        } else {
            format!("{}", rng.next() as i64 as f64 * 1e3)
        };
        headers.push(("Retry-After".to_string(), value));
    }
    if status == 401 && rng.chance(50) {
        headers.push((
            "WWW-Authenticate".to_string(),
            r#"Bearer error="invalid_token""#.to_string(),
        ));
    }
    Action::Reply {
        status,
        content_type,
        headers,
        body,
        declared: None,
    }
}

fn body(rng: &mut Rng, ep: Ep) -> (&'static str, Vec<u8>) {
    const JSON: &str = "application/json";
    let text = |rng: &mut Rng| serde_json::Value::String(hostile_text(rng, ep)).to_string();
    let json = match rng.below(12) {
        0 | 1 => format!(r#"{{"detail":{}}}"#, text(rng)),
        2 => format!(
            r#"{{"error":{},"category":"{}"}}"#,
            text(rng),
            rng.pick(&["user", "server", "7"])
        ),
        3 => format!(r#"{{"message":{},"detail":null}}"#, text(rng)),
        4 | 5 => rng.pick(WRONG_SHAPES).to_string(),
        6 => {
            let t = text(rng);
            let field = rng.pick(&[
                "session_id",
                "sampling_session_id",
                "request_id",
                "warning_message",
                "error_message",
                "info_message",
            ]);
            format!(r#"{{"session_id":"s","sampling_session_id":"ss","request_id":"r","{field}":{t}}}"#)
        }
        7 => format!(
            r#"{{"type":"try_again","queue_state":{},"queue_state_reason":{}}}"#,
            text(rng),
            text(rng)
        ),
        8 => return ("application/x-protobuf", protobuf(rng)),
        9 => {
            // A correct answer cut short.
            let normal = normal_body(ep);
            let cut = rng.below(normal.len().max(1));
            return (JSON, normal.as_bytes()[..cut].to_vec());
        }
        10 => match rng.below(4) {
            0 => "[".repeat(20_000),
            1 => format!(r#"{{"sequences":[{}]}}"#, vec![r#"{"tokens":[],"stop_reason":"stop"}"#; 20_000].join(",")),
            2 => r#"{"sequences":[{"tokens":[1],"stop_reason":"stop"}],"prompt_cache_hit_tokens":1e999}"#.to_string(),
            _ => format!("{{\"detail\":\"{}\"}}", "A".repeat(200_000)),
        },
        _ => return (*rng.pick(&[JSON, "text/html", ""]), rng.some_bytes(600)),
    };
    (JSON, json.into_bytes())
}

fn normal_body(ep: Ep) -> String {
    match ep {
        Ep::Retrieve => r#"{"type":"sample","sequences":[{"tokens":[5,6,7,8],"logprobs":[-0.5,-0.25,-1.0,-2.0],"stop_reason":"length"}]}"#.to_string(),
        Ep::Auth => format!(r#"{{"jwt":"{TOKEN}"}}"#),
        _ => r#"{"session_id":"sess-1","sampling_session_id":"samp-1","request_id":"req-1"}"#
            .to_string(),
    }
}

/// Error text a hostile server might send: escape sequences, C0/C1 controls, the key echoed
/// (whole, cut, or placed across the 300- and 1,000-character cuts), the session token after
/// it was issued, and sometimes 100 KB of it.
pub fn hostile_text(rng: &mut Rng, ep: Ep) -> String {
    let token_known = !matches!(ep, Ep::Config | Ep::Auth);
    let mut text = String::new();
    for _ in 0..1 + rng.below(4) {
        match rng.below(10) {
            0 => text.push_str("\u{1b}[2J\u{1b}[H"),
            1 => text.push_str("\u{1b}]0;pwned\u{7}"),
            2 => text.push_str("\u{9b}31m\u{0}\u{8}\r\n"),
            3 => text.push_str(KEY),
            4 => text.push_str(&KEY[..8 + rng.below(KEY.len() - 8)]),
            5 => {
                let pad = 300usize
                    .saturating_sub(text.chars().count())
                    .saturating_sub(rng.below(KEY.len()));
                text.push_str(&"x".repeat(pad));
                text.push_str(KEY);
            }
            6 => {
                let pad = 1000usize
                    .saturating_sub(text.chars().count())
                    .saturating_sub(rng.below(KEY.len()));
                text.push_str(&"y".repeat(pad));
                text.push_str(KEY);
            }
            7 if token_known => text.push_str(TOKEN),
            8 if rng.chance(20) => text.push_str(&"z\u{1b}".repeat(50_000)),
            _ => text.push_str("the server\tsays no"),
        }
    }
    text
}

/// Protobuf-shaped bodies: random bytes, the 20-byte k = 0 top-k block, and top-k blocks and
/// prompt logprobs whose counts disagree with their bytes.
fn protobuf(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => rng.some_bytes(200),
        1 => vec![
            0x0a, 0x02, 0x08, 0x01, 0x1a, 0x0c, 0x0a, 0x00, 0x12, 0x00, 0x18, 0x00, 0x20, 0xff,
            0xff, 0xff, 0xff, 0x0f, 0x20, 0x05,
        ],
        2 => {
            let cells = rng.below(8);
            let mut block = Vec::new();
            field_bytes(&mut block, 1, &rng.bytes(cells * 4));
            field_bytes(&mut block, 2, &rng.bytes(cells * 4));
            field_varint(&mut block, 3, rng.next() % 4);
            field_varint(&mut block, 4, {
                let any = rng.next();
                *rng.pick(&[0, 1, 2, 3, 0xFFFF_FFFF, any])
            });
            let mut body = Vec::new();
            field_bytes(&mut body, 3, &block);
            body
        }
        _ => {
            let mut seq = Vec::new();
            field_varint(&mut seq, 1, rng.next() % 3);
            let len = rng.below(3) * 4 + rng.below(2);
            field_bytes(&mut seq, 2, &rng.bytes(len));
            let mut body = Vec::new();
            field_bytes(&mut body, 1, &seq);
            let len = 4 * rng.below(40);
            field_bytes(&mut body, 2, &rng.bytes(len));
            body
        }
    }
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u64, value: u64) {
    varint(out, field << 3);
    varint(out, value);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
