//! Decoding the protobuf `SampleResponse` (package `tinker_public`) into our types.

use prost::Message;

use crate::client::types::{SampleResponse, SampledSequence, StopReason, TopkRow};

#[derive(Clone, PartialEq, Message)]
struct PbSampleResponse {
    #[prost(message, repeated, tag = "1")]
    sequences: Vec<PbSampledSequence>,
    #[prost(bytes = "vec", optional, tag = "2")]
    prompt_logprobs: Option<Vec<u8>>,
    #[prost(message, optional, tag = "3")]
    topk_prompt_logprobs: Option<PbTopkLogprobs>,
    #[prost(int32, tag = "4")]
    prompt_cache_hit_tokens: i32,
}

#[derive(Clone, PartialEq, Message)]
struct PbSampledSequence {
    #[prost(int32, tag = "1")]
    stop_reason: i32,
    #[prost(bytes = "vec", tag = "2")]
    tokens: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "3")]
    logprobs: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct PbTopkLogprobs {
    #[prost(bytes = "vec", tag = "1")]
    token_ids: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    logprobs: Vec<u8>,
    #[prost(uint32, tag = "3")]
    k: u32,
    #[prost(uint32, tag = "4")]
    length: u32,
}

/// The top-k cell that means "nothing here".
const SENTINEL: (u32, f32) = (0, -99999.0);

/// Decodes a protobuf result body; the error text says what is wrong.
pub(crate) fn decode(body: &[u8]) -> Result<SampleResponse, String> {
    decode_for_prompt(body, usize::MAX)
}

/// Decodes the result of a `prompt_len`-token prompt: per-prompt-token arrays longer than
/// the prompt are refused before anything is allocated for them.
pub(crate) fn decode_for_prompt(body: &[u8], prompt_len: usize) -> Result<SampleResponse, String> {
    // prost checks every length prefix against the bytes left, so what it allocates is
    // bounded by the body; the counts inside the messages are checked below.
    let pb = PbSampleResponse::decode(body).map_err(|e| format!("bad protobuf: {e}"))?;
    if let Some(bytes) = &pb.prompt_logprobs {
        check_rows(bytes.len() / 4, prompt_len, "prompt_logprobs")?;
    }
    if let Some(block) = &pb.topk_prompt_logprobs {
        check_rows(block.length as usize, prompt_len, "topk_prompt_logprobs")?;
    }
    let sequences = pb
        .sequences
        .into_iter()
        .map(sequence)
        .collect::<Result<Vec<_>, _>>()?;
    let prompt_logprobs = pb
        .prompt_logprobs
        .map(|bytes| {
            floats(&bytes, "prompt_logprobs")
                .map(|v| v.into_iter().map(|x| (!x.is_nan()).then_some(x)).collect())
        })
        .transpose()?;
    let topk_prompt_logprobs = pb.topk_prompt_logprobs.map(topk).transpose()?;
    Ok(SampleResponse {
        sequences,
        prompt_logprobs,
        topk_prompt_logprobs,
        prompt_cache_hit_tokens: u32::try_from(pb.prompt_cache_hit_tokens).unwrap_or(0),
    })
}

fn sequence(pb: PbSampledSequence) -> Result<SampledSequence, String> {
    let stop_reason = match pb.stop_reason {
        0 => StopReason::Stop,
        1 => StopReason::Length,
        other => return Err(format!("unknown stop_reason {other}")),
    };
    let tokens = ints(&pb.tokens, "tokens")?
        .into_iter()
        .map(|t| u32::try_from(t).map_err(|_| format!("negative token id {t}")))
        .collect::<Result<Vec<_>, _>>()?;
    let logprobs = pb.logprobs.map(|b| floats(&b, "logprobs")).transpose()?;
    Ok(SampledSequence {
        stop_reason,
        tokens,
        logprobs,
    })
}

fn check_rows(rows: usize, prompt_len: usize, what: &str) -> Result<(), String> {
    if rows > prompt_len {
        return Err(format!(
            "{what} has {rows} rows for a prompt of {prompt_len} tokens"
        ));
    }
    Ok(())
}

fn topk(pb: PbTopkLogprobs) -> Result<Vec<Option<TopkRow>>, String> {
    let (k, length) = (pb.k as usize, pb.length as usize);
    // Checked before anything is allocated: with k = 0 the arrays are empty whatever the
    // length, and `length` rows would be allocated from a 20-byte body.
    if length > 0 && k == 0 {
        return Err(format!("topk has {length} rows of k = 0"));
    }
    let cells = k.checked_mul(length).ok_or("topk size overflows")?;
    let expected = cells.checked_mul(4).ok_or("topk size overflows")?;
    if pb.token_ids.len() != expected || pb.logprobs.len() != expected {
        return Err(format!(
            "topk arrays hold {} and {} bytes, expected {length} × {k} cells",
            pb.token_ids.len(),
            pb.logprobs.len()
        ));
    }
    let ids = ints(&pb.token_ids, "topk token_ids")?;
    let lps = floats(&pb.logprobs, "topk logprobs")?;
    let rows = (0..length).map(|row| {
        let mut cells: Vec<(u32, f32)> = (row * k..row * k + k)
            .map(|i| (ids[i] as u32, lps[i]))
            .collect();
        if cells.first().is_none_or(|c| *c == SENTINEL) {
            return None;
        }
        while cells.last() == Some(&SENTINEL) {
            cells.pop();
        }
        Some(cells)
    });
    Ok(rows.collect())
}

fn ints(bytes: &[u8], what: &str) -> Result<Vec<i32>, String> {
    words(bytes, what).map(|w| w.map(i32::from_le_bytes).collect())
}

fn floats(bytes: &[u8], what: &str) -> Result<Vec<f32>, String> {
    words(bytes, what).map(|w| w.map(f32::from_le_bytes).collect())
}

fn words<'a>(bytes: &'a [u8], what: &str) -> Result<impl Iterator<Item = [u8; 4]> + 'a, String> {
    if !bytes.len().is_multiple_of(4) {
        return Err(format!(
            "{what} is {} bytes, not a multiple of 4",
            bytes.len()
        ));
    }
    Ok(bytes.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_rows_and_cells() {
        let ids: Vec<u8> = [0i32, 0, 5, 0, 7, 8]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let lps: Vec<u8> = [-99999.0f32, -99999.0, -1.0, -99999.0, -0.5, -0.25]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let rows = topk(PbTopkLogprobs {
            token_ids: ids,
            logprobs: lps,
            k: 2,
            length: 3,
        })
        .unwrap();
        assert_eq!(
            rows,
            vec![
                None,
                Some(vec![(5, -1.0)]),
                Some(vec![(7, -0.5), (8, -0.25)])
            ]
        );
    }

    #[test]
    fn odd_lengths_are_errors() {
        assert!(floats(&[1, 2, 3], "x").is_err());
        let bad = topk(PbTopkLogprobs {
            token_ids: vec![0; 4],
            logprobs: vec![0; 4],
            k: 2,
            length: 1,
        });
        assert!(bad.unwrap_err().contains("expected 1 × 2"));
    }

    /// The 20-byte body of issue 13: a top-k block of k = 0 and length 0xFFFFFFFF once made
    /// the decoder allocate ~100 GB and abort.
    const ZERO_K_BODY: [u8; 20] = [
        0x0a, 0x02, 0x08, 0x01, // sequences[0]: stop_reason length, no tokens
        0x1a, 0x0c, // topk_prompt_logprobs, 12 bytes:
        0x0a, 0x00, // token_ids: empty
        0x12, 0x00, // logprobs: empty
        0x18, 0x00, // k = 0
        0x20, 0xff, 0xff, 0xff, 0xff, 0x0f, // length = 0xFFFFFFFF
        0x20, 0x05, // prompt_cache_hit_tokens = 5
    ];

    #[test]
    fn a_zero_k_topk_block_is_refused_before_allocating() {
        let pb = PbSampleResponse::decode(&ZERO_K_BODY[..]).unwrap();
        let block = pb.topk_prompt_logprobs.as_ref().unwrap();
        assert_eq!((block.k, block.length), (0, u32::MAX));
        let err = decode(&ZERO_K_BODY).unwrap_err();
        assert!(err.contains("k = 0"), "{err}");
        let err = decode_for_prompt(&ZERO_K_BODY, 4).unwrap_err();
        assert!(
            err.contains("4294967295 rows for a prompt of 4 tokens"),
            "{err}"
        );
    }

    #[test]
    fn rows_past_the_prompt_are_refused() {
        let block = PbTopkLogprobs {
            token_ids: vec![0; 12],
            logprobs: vec![0; 12],
            k: 1,
            length: 3,
        };
        let body = PbSampleResponse {
            sequences: Vec::new(),
            prompt_logprobs: Some(vec![0; 8]),
            topk_prompt_logprobs: Some(block),
            prompt_cache_hit_tokens: 0,
        }
        .encode_to_vec();
        assert!(decode_for_prompt(&body, 3).is_ok());
        let err = decode_for_prompt(&body, 2).unwrap_err();
        assert!(err.contains("3 rows for a prompt of 2 tokens"), "{err}");
        // Sizes are checked against the arrays' bytes, not the other way round.
        let bad = topk(PbTopkLogprobs {
            token_ids: Vec::new(),
            logprobs: Vec::new(),
            k: u32::MAX,
            length: u32::MAX,
        });
        assert!(bad.is_err());
    }
}
