//! Rendering a sample result as plain text or one JSON document, and delivering those bytes.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::settings::OutputOptions;
use super::sink::{self, Delivery};
use crate::client::{SampleResponse, SampledSequence, StopReason};
use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// Turns token ids back into text for output.
pub trait TextDecoder {
    /// Decodes ids to text, keeping special tokens (as Python's `decode`).
    fn decode(&self, ids: &[u32]) -> Result<String>;
    /// Whether `id` is an end-of-sequence style special token (left out of plain text).
    fn is_end_token(&self, id: u32) -> bool;
}

impl TextDecoder for Tokenizer {
    /// Ids here came from the server: one outside the vocabulary would silently vanish from
    /// the text, so it is the server's error (exit 4) naming the id and the vocabulary size.
    fn decode(&self, ids: &[u32]) -> Result<String> {
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= self.vocab_size()) {
            return Err(crate::error::Error::Protocol(format!(
                "the server sent token id {bad}, outside the vocabulary of tokenizer {} ({} ids, 0 to {})",
                self.id(),
                self.vocab_size(),
                self.vocab_size().saturating_sub(1)
            )));
        }
        Tokenizer::decode(self, ids)
    }

    fn is_end_token(&self, id: u32) -> bool {
        self.is_special(id)
    }
}

/// Delivers finished output: to `path` atomically, else to stdout (a closed pipe is not an
/// error; the caller hears of it to stay quiet).
pub fn deliver(path: Option<&Path>, bytes: &[u8]) -> Result<Delivery> {
    match path {
        Some(path) => sink::to_file_atomically(path, bytes).map(|()| Delivery::Complete),
        None => sink::to_stdout(bytes),
    }
}

/// The extras a run asked the server for, to notice a server that leaves them out.
#[derive(Debug, Clone, Copy, Default)]
pub struct AskedExtras {
    /// `--topk-logprobs K` (0: not asked).
    pub topk_logprobs: u32,
    /// `--prompt-logprobs` or `--topk-prompt-logprobs` (then `topk_prompt` is K).
    pub prompt_logprobs: bool,
    /// `--topk-prompt-logprobs K` (0: not asked).
    pub topk_prompt: u32,
}

/// What the server left out of what was asked: each named once per process, since a batch
/// would otherwise repeat it on every line.
pub fn warn_missing_extras(response: &SampleResponse, asked: AskedExtras) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static WARNED: AtomicBool = AtomicBool::new(false);
    let mut missing = Vec::new();
    if asked.topk_logprobs > 0
        && !response.sequences.is_empty()
        && response.sequences.iter().all(|s| s.topk_logprobs.is_none())
    {
        missing.push("top-k logprobs (--topk-logprobs)");
    }
    if asked.prompt_logprobs && response.prompt_logprobs.is_none() {
        missing.push("prompt logprobs (--prompt-logprobs)");
    }
    if asked.topk_prompt > 0 && response.topk_prompt_logprobs.is_none() {
        missing.push("top-k prompt logprobs (--topk-prompt-logprobs)");
    }
    if !missing.is_empty() && !WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "the server returned no {} although they were asked for; it may not support them",
            missing.join(", no ")
        );
    }
}

/// What a run produced, with the context output needs.
pub struct Outcome<'a> {
    /// The model label (base model or model path).
    pub model: &'a str,
    /// How many tokens the prompt had.
    pub prompt_tokens: usize,
    /// The server's answer.
    pub response: &'a SampleResponse,
    /// Stop token ids that were sent, left out of plain text when they end a sample.
    pub stop_tokens: &'a [u32],
    /// Chat mode's renderer and stops (`{"renderer", "stop"}`), shown in JSON output.
    pub chat: Option<Value>,
}

/// Renders `outcome` as the bytes stdout or `--output` should hold.
pub fn render(
    outcome: &Outcome,
    options: &OutputOptions,
    decoder: Option<&dyn TextDecoder>,
) -> Result<Vec<u8>> {
    let decoder = if options.tokens_only { None } else { decoder };
    if options.json {
        let mut text =
            serde_json::to_string_pretty(&json_document(outcome, decoder)?).unwrap_or_default();
        text.push('\n');
        Ok(text.into_bytes())
    } else {
        plain(outcome, options, decoder).map(String::into_bytes)
    }
}

fn plain(
    outcome: &Outcome,
    options: &OutputOptions,
    decoder: Option<&dyn TextDecoder>,
) -> Result<String> {
    let sequences = &outcome.response.sequences;
    let mut out = String::new();
    for (index, sequence) in sequences.iter().enumerate() {
        if sequences.len() > 1 && decoder.is_some() {
            let _ = writeln!(
                out,
                "--- sample {}/{} (stop: {}, tokens: {}) ---",
                index + 1,
                sequences.len(),
                stop_name(sequence.stop_reason),
                sequence.tokens.len()
            );
        }
        match decoder {
            Some(decoder) => {
                let shown = visible_tokens(sequence, outcome.stop_tokens, decoder);
                out.push_str(&decoder.decode(shown)?);
                out.push('\n');
                // `--topk-logprobs` alone would print nothing extra: it implies `--logprobs`.
                if options.logprobs || sequence.topk_logprobs.is_some() {
                    logprob_lines(&mut out, sequence, decoder)?;
                }
            }
            None => {
                out.push_str(&token_line(sequence, options.logprobs));
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// The tokens plain output shows: all but a final stop or end token.
fn visible_tokens<'s>(
    sequence: &'s SampledSequence,
    stop_tokens: &[u32],
    decoder: &dyn TextDecoder,
) -> &'s [u32] {
    match sequence.tokens.split_last() {
        Some((&last, rest))
            if sequence.stop_reason == StopReason::Stop
                && (stop_tokens.contains(&last) || decoder.is_end_token(last)) =>
        {
            rest
        }
        _ => &sequence.tokens,
    }
}

fn token_line(sequence: &SampledSequence, with_logprobs: bool) -> String {
    let logprobs = sequence.logprobs.as_deref().filter(|_| with_logprobs);
    let cells: Vec<String> = sequence
        .tokens
        .iter()
        .enumerate()
        .map(|(i, id)| match logprobs.and_then(|l| l.get(i)) {
            Some(lp) => format!("{id}:{lp:.4}"),
            None => id.to_string(),
        })
        .collect();
    cells.join(" ")
}

fn logprob_lines(
    out: &mut String,
    sequence: &SampledSequence,
    decoder: &dyn TextDecoder,
) -> Result<()> {
    out.push_str("--- logprobs (token id, logprob, text) ---\n");
    for (index, id) in sequence.tokens.iter().enumerate() {
        let logprob = match sequence.logprobs.as_ref().and_then(|l| l.get(index)) {
            Some(lp) => format!("{lp:.4}"),
            None => "-".to_string(),
        };
        let piece = Value::String(decoder.decode(&[*id])?);
        let _ = writeln!(out, "{id}\t{logprob}\t{piece}");
        let row = sequence
            .topk_logprobs
            .as_ref()
            .and_then(|rows| rows.get(index));
        for (alt, lp) in row.into_iter().flatten().flatten() {
            let piece = Value::String(decoder.decode(&[*alt])?);
            let _ = writeln!(out, "  alt {alt}\t{lp:.4}\t{piece}");
        }
    }
    Ok(())
}

fn stop_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Stop => "stop",
        StopReason::Length => "length",
    }
}

/// One sequence as JSON: text (when decoding), tokens, logprobs, stop reason.
pub fn sequence_value(
    sequence: &SampledSequence,
    decoder: Option<&dyn TextDecoder>,
) -> Result<Value> {
    let mut entry = Map::new();
    if let Some(decoder) = decoder {
        entry.insert(
            "text".into(),
            Value::String(decoder.decode(&sequence.tokens)?),
        );
    }
    entry.insert("tokens".into(), json!(sequence.tokens));
    entry.insert("logprobs".into(), json!(sequence.logprobs));
    if let Some(rows) = &sequence.topk_logprobs {
        entry.insert("topk_logprobs".into(), json!(rows));
    }
    entry.insert("stop_reason".into(), json!(stop_name(sequence.stop_reason)));
    Ok(Value::Object(entry))
}

fn json_document(outcome: &Outcome, decoder: Option<&dyn TextDecoder>) -> Result<Value> {
    let response = outcome.response;
    let sequences = response
        .sequences
        .iter()
        .map(|s| sequence_value(s, decoder))
        .collect::<Result<Vec<_>>>()?;
    let mut document = Map::new();
    document.insert("model".into(), json!(outcome.model));
    document.insert("prompt_tokens".into(), json!(outcome.prompt_tokens));
    if let Some(chat) = &outcome.chat {
        document.insert("chat".into(), chat.clone());
    }
    document.insert("sequences".into(), Value::Array(sequences));
    if let Some(logprobs) = &response.prompt_logprobs {
        document.insert("prompt_logprobs".into(), json!(logprobs));
    }
    if let Some(topk) = &response.topk_prompt_logprobs {
        document.insert("topk_prompt_logprobs".into(), json!(topk));
    }
    document.insert(
        "prompt_cache_hit_tokens".into(),
        json!(response.prompt_cache_hit_tokens),
    );
    Ok(Value::Object(document))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes id n as the letter ('a' + n % 26); id 99 is the end token, shown as "<E>".
    struct Letters;

    impl TextDecoder for Letters {
        fn decode(&self, ids: &[u32]) -> Result<String> {
            Ok(ids
                .iter()
                .map(|&id| {
                    if id == 99 {
                        "<E>".to_string()
                    } else {
                        ((b'a' + (id % 26) as u8) as char).to_string()
                    }
                })
                .collect())
        }
        fn is_end_token(&self, id: u32) -> bool {
            id == 99
        }
    }

    fn sequence(tokens: &[u32], stop: StopReason) -> SampledSequence {
        SampledSequence {
            stop_reason: stop,
            tokens: tokens.to_vec(),
            logprobs: Some(tokens.iter().map(|_| -0.5).collect()),
            topk_logprobs: None,
        }
    }

    fn response(sequences: Vec<SampledSequence>) -> SampleResponse {
        SampleResponse {
            sequences,
            prompt_logprobs: None,
            topk_prompt_logprobs: None,
            prompt_cache_hit_tokens: 0,
        }
    }

    fn options() -> OutputOptions {
        OutputOptions {
            json: false,
            path: None,
            logprobs: false,
            tokens_only: false,
        }
    }

    fn render_text(resp: &SampleResponse, options: &OutputOptions, stops: &[u32]) -> String {
        let outcome = Outcome {
            model: "m",
            prompt_tokens: 3,
            response: resp,
            stop_tokens: stops,
            chat: None,
        };
        String::from_utf8(render(&outcome, options, Some(&Letters)).unwrap()).unwrap()
    }

    #[test]
    fn one_sample_is_bare_text_without_its_end_token() {
        let resp = response(vec![sequence(&[7, 4, 11, 99], StopReason::Stop)]);
        assert_eq!(render_text(&resp, &options(), &[]), "hel\n");
    }

    #[test]
    fn end_token_is_kept_when_the_sample_hit_its_length() {
        let resp = response(vec![sequence(&[7, 99], StopReason::Length)]);
        assert_eq!(render_text(&resp, &options(), &[]), "h<E>\n");
    }

    #[test]
    fn several_samples_get_headers_and_user_stop_tokens_are_hidden() {
        let resp = response(vec![
            sequence(&[0, 1, 5], StopReason::Stop),
            sequence(&[2, 3], StopReason::Length),
        ]);
        let expected = "--- sample 1/2 (stop: stop, tokens: 3) ---\nab\n--- sample 2/2 (stop: length, tokens: 2) ---\ncd\n";
        assert_eq!(render_text(&resp, &options(), &[5]), expected);
    }

    #[test]
    fn logprob_lines_follow_the_text() {
        let resp = response(vec![sequence(&[0, 1], StopReason::Length)]);
        let text = render_text(
            &resp,
            &OutputOptions {
                logprobs: true,
                ..options()
            },
            &[],
        );
        assert_eq!(text, "ab\n--- logprobs (token id, logprob, text) ---\n0\t-0.5000\t\"a\"\n1\t-0.5000\t\"b\"\n");
    }

    #[test]
    fn tokens_only_prints_ids_per_line() {
        let resp = response(vec![
            sequence(&[1, 2, 99], StopReason::Stop),
            sequence(&[3], StopReason::Length),
        ]);
        assert_eq!(
            render_text(
                &resp,
                &OutputOptions {
                    tokens_only: true,
                    ..options()
                },
                &[]
            ),
            "1 2 99\n3\n"
        );
    }

    #[test]
    fn json_keeps_every_token_and_omits_unasked_fields() {
        let resp = response(vec![sequence(&[7, 99], StopReason::Stop)]);
        let text = render_text(
            &resp,
            &OutputOptions {
                json: true,
                ..options()
            },
            &[],
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"model": "m", "prompt_tokens": 3, "sequences": [{"text": "h<E>", "tokens": [7, 99], "logprobs": [-0.5, -0.5], "stop_reason": "stop"}], "prompt_cache_hit_tokens": 0})
        );
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "model",
                "prompt_tokens",
                "sequences",
                "prompt_cache_hit_tokens"
            ]
        );
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn chat_runs_add_their_renderer_and_stops_after_the_prompt_count() {
        let resp = response(vec![sequence(&[7, 5], StopReason::Stop)]);
        let outcome = Outcome {
            model: "m",
            prompt_tokens: 3,
            response: &resp,
            stop_tokens: &[5],
            chat: Some(json!({"renderer": "hf", "stop": [5]})),
        };
        let json_options = OutputOptions {
            json: true,
            ..options()
        };
        let text =
            String::from_utf8(render(&outcome, &json_options, Some(&Letters)).unwrap()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "model",
                "prompt_tokens",
                "chat",
                "sequences",
                "prompt_cache_hit_tokens"
            ]
        );
        assert_eq!(value["chat"], json!({"renderer": "hf", "stop": [5]}));
        let plain = render(&outcome, &options(), Some(&Letters)).unwrap();
        assert_eq!(plain, b"h\n", "the sent stop token is left out");
    }

    #[test]
    fn json_tokens_only_has_no_text() {
        let mut resp = response(vec![sequence(&[7], StopReason::Length)]);
        resp.prompt_logprobs = Some(vec![None, Some(-1.5)]);
        let text = render_text(
            &resp,
            &OutputOptions {
                json: true,
                tokens_only: true,
                ..options()
            },
            &[],
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(value["sequences"][0].get("text").is_none());
        assert_eq!(value["prompt_logprobs"], json!([null, -1.5]));
    }
}
