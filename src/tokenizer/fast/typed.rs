//! The cold path's parse: `tokenizer.json` straight into cache tables with a typed,
//! borrowing deserializer, never building a `serde_json::Value` of the vocabulary or a
//! full `tokenizers::Tokenizer`.
//!
//! Token strings borrow from the input (only escaped ones are copied), so Qwen3's 11 MB
//! file needs a fraction of the time and memory of the generic parse. Everything but the
//! model's vocab and merges is kept as JSON (the skeleton) and read by the crate's own
//! types, exactly as on the full path; the resulting tables are byte-identical to
//! [`super::build::tables`]'s. Anything unusual (duplicate vocab keys, mixed merge
//! forms, another version) is declined, and the caller falls back to the full path.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::build::{self, Ineligible};
use super::format::Tables;

/// The tables for `json`, or why the typed parse does not apply (use the full path).
pub fn tables(json: &[u8]) -> Result<Tables, Ineligible> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let parsed = de.deserialize_map(RootVisitor).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    let Parsed {
        mut root,
        model,
        version_ok,
    } = parsed;
    if !version_ok {
        return Err("not a version 1.0 tokenizer".into());
    }
    let Some(Model {
        mut rest,
        vocab,
        merges,
    }) = model
    else {
        return Err("no model section".into());
    };
    if rest.get("type").and_then(Value::as_str) != Some("BPE") {
        return Err("the model is not BPE".into());
    }
    if !rest.get("dropout").is_none_or(Value::is_null) {
        return Err("BPE dropout makes encoding random".into());
    }
    let vocab = vocab.ok_or("the BPE vocab is missing")?;
    let merges = merges.ok_or("the BPE merges are missing")?;
    // The skeleton is built as the generic path builds it (same removals, same order),
    // so both paths write the same bytes.
    rest.remove("vocab");
    rest.remove("merges");
    let prefix_len = match rest.get("continuing_subword_prefix") {
        Some(Value::String(prefix)) => prefix.len(),
        _ => 0,
    };
    root.remove("model");
    root.insert("model".into(), Value::Object(rest));
    let skeleton = serde_json::to_vec(&Value::Object(root)).map_err(|e| e.to_string())?;
    build::assemble(skeleton, &vocab, &merges, prefix_len)
}

/// The top level: every key kept as JSON except the model, read typed.
struct Parsed<'a> {
    root: Map<String, Value>,
    model: Option<Model<'a>>,
    version_ok: bool,
}

/// The model section: vocab (dense, by id) and merges typed; the rest as JSON.
struct Model<'a> {
    rest: Map<String, Value>,
    vocab: Option<Vec<Cow<'a, str>>>,
    merges: Option<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
}

struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tokenizer.json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let mut root = Map::new();
        let mut model = None;
        let mut version_ok = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "model" {
                if model.is_some() {
                    return Err(de::Error::custom("two model sections"));
                }
                model = Some(map.next_value_seed(ModelVisitor)?);
                root.insert(key.into_owned(), Value::Null);
                continue;
            }
            let value: Value = map.next_value()?;
            if key == "version" {
                version_ok = value.as_str() == Some("1.0");
            }
            if root.insert(key.into_owned(), value).is_some() {
                return Err(de::Error::custom("a repeated top-level key"));
            }
        }
        Ok(Parsed {
            root,
            model,
            version_ok,
        })
    }
}

struct ModelVisitor;

impl<'de> DeserializeSeed<'de> for ModelVisitor {
    type Value = Model<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Model<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ModelVisitor {
    type Value = Model<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a model object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Model<'de>, A::Error> {
        let mut model = Model {
            rest: Map::new(),
            vocab: None,
            merges: None,
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value = match &*key {
                "vocab" if model.vocab.is_none() => {
                    model.vocab = Some(map.next_value_seed(VocabVisitor)?);
                    Value::Null
                }
                "merges" if model.merges.is_none() => {
                    model.merges = Some(map.next_value_seed(MergesVisitor)?);
                    Value::Null
                }
                "vocab" | "merges" => return Err(de::Error::custom("a repeated model key")),
                _ => map.next_value()?,
            };
            if model.rest.insert(key.into_owned(), value).is_some() {
                return Err(de::Error::custom("a repeated model key"));
            }
        }
        Ok(model)
    }
}

/// `{"token": id, …}` into token strings by id; ids must be exactly `0..n`, tokens unique.
struct VocabVisitor;

impl<'de> DeserializeSeed<'de> for VocabVisitor {
    type Value = Vec<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for VocabVisitor {
    type Value = Vec<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a vocab object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Ids usually arrive in order; a bounded pre-allocation guards against a hostile hint.
        let mut tokens: Vec<Option<Cow<'de, str>>> =
            Vec::with_capacity(map.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(token) = map.next_key::<Cow<'de, str>>()? {
            let id: u64 = map.next_value()?;
            let id = usize::try_from(id)
                .ok()
                .filter(|&id| id < (1 << 24))
                .ok_or_else(|| de::Error::custom("vocab ids are not 0..n"))?;
            if id >= tokens.len() {
                tokens.resize(id + 1, None);
            }
            if tokens[id].replace(token).is_some() {
                return Err(de::Error::custom("two vocab entries share an id"));
            }
        }
        tokens
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| de::Error::custom("vocab ids are not 0..n"))
    }
}

/// A merge list: all `["a", "b"]` pairs, or all legacy `"a b"` strings.
struct MergesVisitor;

/// One merge as written.
enum Merge<'a> {
    Pair(Cow<'a, str>, Cow<'a, str>),
    Legacy(Cow<'a, str>),
}

impl<'de> Deserialize<'de> for Merge<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MergeVisitor;
        impl<'de> Visitor<'de> for MergeVisitor {
            type Value = Merge<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a merge pair or string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Merge<'de>, E> {
                Ok(Merge::Legacy(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Merge<'de>, E> {
                Ok(Merge::Legacy(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Merge<'de>, A::Error> {
                let a: Cow<'de, str> = seq.next_element()?.ok_or_else(pair_error)?;
                let b: Cow<'de, str> = seq.next_element()?.ok_or_else(pair_error)?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(pair_error());
                }
                Ok(Merge::Pair(a, b))
            }
        }
        fn pair_error<E: de::Error>() -> E {
            E::custom("unreadable merge pair")
        }
        d.deserialize_any(MergeVisitor)
    }
}

impl<'de> DeserializeSeed<'de> for MergesVisitor {
    type Value = Vec<(Cow<'de, str>, Cow<'de, str>)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MergesVisitor {
    type Value = Vec<(Cow<'de, str>, Cow<'de, str>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a merges list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut merges = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        let (mut pairs, mut legacy) = (false, false);
        while let Some(merge) = seq.next_element::<Merge<'de>>()? {
            match merge {
                Merge::Pair(a, b) => {
                    pairs = true;
                    merges.push((a, b));
                }
                Merge::Legacy(line) if line.starts_with("#version") => legacy = true,
                Merge::Legacy(line) => {
                    legacy = true;
                    merges.push(split_legacy(line).map_err(de::Error::custom)?);
                }
            }
        }
        if pairs && legacy {
            return Err(de::Error::custom("merges mix pairs and strings"));
        }
        Ok(merges)
    }
}

/// `"a b"` into its two halves, borrowing when the line does.
fn split_legacy<'a>(line: Cow<'a, str>) -> Result<(Cow<'a, str>, Cow<'a, str>), String> {
    if line.split(' ').count() != 2 {
        return Err(format!("unreadable merge {line:?}"));
    }
    Ok(match line {
        Cow::Borrowed(s) => {
            let (a, b) = s.split_once(' ').unwrap_or_default();
            (Cow::Borrowed(a), Cow::Borrowed(b))
        }
        Cow::Owned(s) => {
            let (a, b) = s.split_once(' ').unwrap_or_default();
            (Cow::Owned(a.to_owned()), Cow::Owned(b.to_owned()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed parse and the generic one must write the same bytes.
    fn same_tables(json: &[u8]) {
        let typed = tables(json).expect("typed parse applies");
        let generic = build::tables(json).expect("generic parse applies");
        assert_eq!(typed.skeleton, generic.skeleton, "skeleton");
        assert_eq!(typed.token_offsets, generic.token_offsets);
        assert_eq!(typed.token_bytes, generic.token_bytes);
        assert_eq!(typed.merges, generic.merges);
        assert_eq!(typed.merge_offsets, generic.merge_offsets);
        assert_eq!(typed.merge_ranks, generic.merge_ranks);
        assert_eq!(typed.slots, generic.slots);
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/");
        std::fs::read(format!("{path}{name}/tokenizer.json")).unwrap()
    }

    #[test]
    fn the_fixtures_give_the_same_tables_both_ways() {
        same_tables(&fixture("small"));
        same_tables(&fixture("qwen3"));
    }

    const ESCAPED: &str = r#"{"version": "1.0", "added_tokens": [], "extra": {"k": [1, 2]},
        "model": {"type": "BPE", "dropout": null, "vocab": {"a": 0, "\u0120": 1, "\"q": 2,
        "a\u0120": 3, "a\u0120\"q": 4}, "fuse_unk": false, "merges": ["a \u0120", "a\u0120 \"q"]},
        "normalizer": null}"#;

    #[test]
    fn escaped_tokens_and_legacy_merges_match_the_generic_parse() {
        same_tables(ESCAPED.as_bytes());
        let pairs = ESCAPED.replace(
            r#"["a \u0120", "a\u0120 \"q"]"#,
            r#"[["a", "\u0120"], ["a\u0120", "\"q"]]"#,
        );
        same_tables(pairs.as_bytes());
    }

    #[test]
    fn unusual_files_are_declined() {
        let cases = [
            ESCAPED.replace(r#""version": "1.0""#, r#""version": "2.0""#),
            ESCAPED.replace(r#""a": 0,"#, r#""a": 0, "a": 5,"#),
            ESCAPED.replace(r#""a": 0,"#, r#""a": 7,"#),
            ESCAPED.replace(r#""a \u0120", "#, r#"["a", "\u0120"], "#),
            ESCAPED.replace(r#""dropout": null"#, r#""dropout": 0.1"#),
            ESCAPED.replace(r#""BPE""#, r#""WordPiece""#),
            ESCAPED.replace(r#""a \u0120""#, r#""a \u0120 x""#),
            ESCAPED.replace("\"normalizer\": null}", "\"normalizer\": null} trailing"),
        ];
        for case in &cases {
            assert!(tables(case.as_bytes()).is_err(), "accepted {case}");
        }
    }
}
