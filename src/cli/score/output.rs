//! Rendering scores: plain lines (tab-separated, a line per continuation) or one JSON
//! document; bytes only, no I/O.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::compute::{best, probabilities, Scored};
use crate::cli::output::TextDecoder;
use crate::error::Result;

/// What one scoring produced, with the context output needs.
pub struct Report<'a> {
    /// The model label (base model or model path).
    pub model: &'a str,
    /// How many tokens the context had.
    pub context_tokens: usize,
    /// Chat mode's renderer and stops, as `run --json` shows them.
    pub chat: Option<Value>,
    /// One entry per continuation, in the order given.
    pub results: &'a [Scored],
    /// Whether the continuations were choices (plain output marks the best).
    pub choices: bool,
}

/// Plain output: per continuation `total<TAB>tokens<TAB>mean<TAB>perplexity<TAB>"text"`; with
/// choices each line starts with `*` (the best) or `-` and the choice's probability.
pub fn plain(
    report: &Report,
    per_token: bool,
    decoder: Option<&dyn TextDecoder>,
) -> Result<String> {
    let mut out = String::new();
    let best = best(report.results);
    let shares = probabilities(report.results);
    for (i, result) in report.results.iter().enumerate() {
        if report.choices {
            let mark = if i == best { '*' } else { '-' };
            let _ = write!(out, "{mark}\t{:.4}\t", shares[i]);
        }
        let _ = writeln!(
            out,
            "{:.4}\t{}\t{:.4}\t{:.4}\t{}",
            result.total(),
            result.tokens.len(),
            result.mean(),
            result.perplexity(),
            Value::String(result.continuation.clone())
        );
        if per_token {
            token_lines(&mut out, result, decoder)?;
        }
    }
    Ok(out)
}

/// The per-token lines, as `run --logprobs` prints them.
fn token_lines(out: &mut String, result: &Scored, decoder: Option<&dyn TextDecoder>) -> Result<()> {
    out.push_str("--- logprobs (token id, logprob, text) ---\n");
    for (id, lp) in result.tokens.iter().zip(&result.logprobs) {
        let _ = write!(out, "{id}\t{lp:.4}");
        if let Some(decoder) = decoder {
            let _ = write!(out, "\t{}", Value::String(decoder.decode(&[*id])?));
        }
        out.push('\n');
    }
    Ok(())
}

/// The results and the best index: the part of the JSON document a batch line shares.
pub fn results_entries(report: &Report, document: &mut Map<String, Value>) {
    document.insert("context_tokens".into(), json!(report.context_tokens));
    if let Some(chat) = &report.chat {
        document.insert("chat".into(), chat.clone());
    }
    let shares = probabilities(report.results);
    let results: Vec<Value> = report
        .results
        .iter()
        .zip(shares)
        .map(|(r, share)| {
            json!({
                "continuation": r.continuation,
                "tokens": r.tokens,
                "logprobs": r.logprobs,
                "total": r.total(),
                "mean": r.mean(),
                "perplexity": r.perplexity(),
                "probability": share,
            })
        })
        .collect();
    document.insert("results".into(), Value::Array(results));
    document.insert("best".into(), json!(best(report.results)));
}

/// The `--json` document, pretty-printed, one trailing newline.
pub fn json_document(report: &Report) -> Vec<u8> {
    let mut document = Map::new();
    document.insert("model".into(), json!(report.model));
    results_entries(report, &mut document);
    let mut text = serde_json::to_string_pretty(&Value::Object(document)).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(results: &[Scored], choices: bool) -> Report<'_> {
        Report {
            model: "m",
            context_tokens: 3,
            chat: None,
            results,
            choices,
        }
    }

    fn scored(text: &str, logprobs: &[f32]) -> Scored {
        Scored {
            continuation: text.into(),
            tokens: (1..=logprobs.len() as u32).collect(),
            logprobs: logprobs.to_vec(),
        }
    }

    #[test]
    fn one_continuation_is_one_line() {
        let results = [scored(" Paris", &[-1.0, -0.5])];
        let text = plain(&report(&results, false), false, None).unwrap();
        assert_eq!(text, "-1.5000\t2\t-0.7500\t2.1170\t\" Paris\"\n");
    }

    #[test]
    fn choices_mark_the_best_and_share_the_mass() {
        let results = [
            scored("a", &[-2.0]),
            scored("b", &[-1.0]),
            scored("c", &[-1.0]),
        ];
        let text = plain(&report(&results, true), true, None).unwrap();
        let expected = "-\t0.1554\t-2.0000\t1\t-2.0000\t7.3891\t\"a\"\n\
            --- logprobs (token id, logprob, text) ---\n1\t-2.0000\n\
            *\t0.4223\t-1.0000\t1\t-1.0000\t2.7183\t\"b\"\n\
            --- logprobs (token id, logprob, text) ---\n1\t-1.0000\n\
            -\t0.4223\t-1.0000\t1\t-1.0000\t2.7183\t\"c\"\n\
            --- logprobs (token id, logprob, text) ---\n1\t-1.0000\n";
        assert_eq!(text, expected);
        let doc: Value = serde_json::from_slice(&json_document(&report(&results, true))).unwrap();
        assert_eq!(doc["best"], 1);
        assert_eq!(doc["results"][0]["tokens"], json!([1]));
        assert_eq!(doc["results"][2]["total"], json!(-1.0));
    }
}
