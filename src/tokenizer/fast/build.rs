//! Turns a `tokenizer.json` into the cache tables, or says why the fast path does not apply.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::format::{Tables, PREFIX_ONLY};
use super::table::{hash_extend, hash_finish, slot_and_tag, HASH_START};

/// The maps of a build: aHash with per-process random keys, several times faster than
/// SipHash on half a million short strings, and still no target for crafted collisions.
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

fn hasher() -> ahash::RandomState {
    ahash::RandomState::new()
}

/// Why a tokenizer cannot use the fast path (it then always uses the full tokenizer).
pub type Ineligible = String;

/// The cache tables for `json`, or why this tokenizer must use the full path.
///
/// Call this only on a file the full tokenizer has already accepted: it assumes the
/// crate's own checks (version, merges in vocabulary) have passed.
pub fn tables(json: &[u8]) -> Result<Tables, Ineligible> {
    let mut root: Map<String, Value> = match serde_json::from_slice(json) {
        Ok(Value::Object(map)) => map,
        _ => return Err("not a JSON object".into()),
    };
    let Some(Value::Object(mut model)) = root.remove("model") else {
        return Err("no model section".into());
    };
    if model.get("type").and_then(Value::as_str) != Some("BPE") {
        return Err("the model is not BPE".into());
    }
    if !model.get("dropout").is_none_or(Value::is_null) {
        return Err("BPE dropout makes encoding random".into());
    }
    let vocab = dense_vocab(model.remove("vocab"))?;
    let merges = merge_pairs(model.remove("merges"))?;
    let prefix_len = match model.get("continuing_subword_prefix") {
        Some(Value::String(prefix)) => prefix.len(),
        _ => 0,
    };
    root.insert("model".into(), Value::Object(model));
    let skeleton = serde_json::to_vec(&Value::Object(root)).map_err(|e| e.to_string())?;
    assemble(skeleton, &vocab, &merges, prefix_len)
}

/// The tables from a skeleton, token strings by id and merges in rank order.
pub fn assemble<S: AsRef<str>>(
    skeleton: Vec<u8>,
    vocab: &[S],
    merges: &[(S, S)],
    prefix_len: usize,
) -> Result<Tables, Ineligible> {
    let (token_offsets, token_bytes) = token_blob(vocab)?;
    let mut ids: FastMap<&str, u32> = FastMap::with_capacity_and_hasher(vocab.len(), hasher());
    for (id, token) in vocab.iter().enumerate() {
        if ids.insert(token.as_ref(), id as u32).is_some() {
            return Err("a vocab token appears twice".into());
        }
    }
    let merges = merge_ids(merges, &ids, prefix_len)?;
    let (merge_offsets, merge_ranks) = group_by_result(&merges, vocab.len());
    Ok(Tables {
        skeleton,
        token_offsets,
        token_bytes,
        merges,
        merge_offsets,
        merge_ranks,
        slots: lookup_table(vocab),
    })
}

/// Token strings in id order; the ids must be exactly `0..n` (every BPE file we know is).
fn dense_vocab(vocab: Option<Value>) -> Result<Vec<String>, Ineligible> {
    let Some(Value::Object(vocab)) = vocab else {
        return Err("the BPE vocab is not an object".into());
    };
    let mut tokens: Vec<Option<String>> = vec![None; vocab.len()];
    for (token, id) in vocab {
        let slot = id
            .as_u64()
            .and_then(|id| tokens.get_mut(usize::try_from(id).ok()?))
            .ok_or("vocab ids are not 0..n")?;
        if slot.replace(token).is_some() {
            return Err("two vocab entries share an id".into());
        }
    }
    tokens
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "vocab ids are not 0..n".into())
}

/// Merges as the crate reads them: `["a", "b"]` pairs or legacy `"a b"` strings.
fn merge_pairs(merges: Option<Value>) -> Result<Vec<(String, String)>, Ineligible> {
    let Some(Value::Array(merges)) = merges else {
        return Err("the BPE merges are not a list".into());
    };
    merges
        .into_iter()
        .filter(|m| !m.as_str().is_some_and(|s| s.starts_with("#version")))
        .map(|merge| match merge {
            Value::String(line) => match line.split(' ').collect::<Vec<_>>()[..] {
                [a, b] => Ok((a.to_string(), b.to_string())),
                _ => Err(format!("unreadable merge {line:?}")),
            },
            Value::Array(pair) => match &pair[..] {
                [Value::String(a), Value::String(b)] => Ok((a.clone(), b.clone())),
                _ => Err("unreadable merge pair".into()),
            },
            _ => Err("unreadable merge".into()),
        })
        .collect()
}

fn token_blob<S: AsRef<str>>(vocab: &[S]) -> Result<(Vec<u32>, Vec<u8>), Ineligible> {
    let mut offsets = Vec::with_capacity(vocab.len() + 1);
    let mut bytes = Vec::new();
    offsets.push(0);
    for token in vocab {
        bytes.extend_from_slice(token.as_ref().as_bytes());
        offsets.push(u32::try_from(bytes.len()).map_err(|_| "vocab too large")?);
    }
    Ok((offsets, bytes))
}

/// `(left, right, result)` ids; the result is `left + right` minus the right's subword prefix.
fn merge_ids<S: AsRef<str>>(
    merges: &[(S, S)],
    ids: &FastMap<&str, u32>,
    prefix_len: usize,
) -> Result<Vec<[u32; 3]>, Ineligible> {
    let mut joined = String::new();
    merges
        .iter()
        .map(|(a, b)| {
            let (a, b) = (a.as_ref(), b.as_ref());
            let id = |t: &str| ids.get(t).copied();
            let result = b.get(prefix_len..).and_then(|rest| {
                joined.clear();
                joined.push_str(a);
                joined.push_str(rest);
                id(&joined)
            });
            match (id(a), id(b), result) {
                (Some(a), Some(b), Some(r)) => Ok([a, b, r]),
                _ => Err(format!("merge {a:?} {b:?} is not in the vocab")),
            }
        })
        .collect()
}

/// Merge ranks grouped by result id (CSR): offsets per id, then the ranks.
fn group_by_result(merges: &[[u32; 3]], vocab: usize) -> (Vec<u32>, Vec<u32>) {
    let mut counts = vec![0u32; vocab + 1];
    for m in merges {
        counts[m[2] as usize + 1] += 1;
    }
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    let offsets = counts.clone();
    let mut ranks = vec![0u32; merges.len()];
    for (rank, m) in merges.iter().enumerate() {
        let at = &mut counts[m[2] as usize];
        ranks[*at as usize] = rank as u32;
        *at += 1;
    }
    (offsets, ranks)
}

/// Every token and every proper prefix of one (at char boundaries), in an open-addressing table.
fn lookup_table<S: AsRef<str>>(vocab: &[S]) -> Vec<[u32; 2]> {
    let mut entries: FastMap<&str, u32> =
        FastMap::with_capacity_and_hasher(vocab.len() * 3, hasher());
    for (id, token) in vocab.iter().enumerate() {
        let token = token.as_ref();
        for (end, _) in token.char_indices().skip(1) {
            entries.entry(&token[..end]).or_insert(PREFIX_ONLY);
        }
        entries.insert(token, id as u32 + 1);
    }
    let slots = ((entries.len() * 10).div_ceil(7))
        .next_power_of_two()
        .max(8);
    // Insertion order decides where colliding entries land: strings go in the order they
    // first occur in the vocabulary (by id), so the same tokenizer always gives the same
    // bytes, without sorting half a million strings.
    let mut table = vec![[0u32; 2]; slots];
    for token in vocab {
        let token = token.as_ref();
        let prefixes = token.char_indices().skip(1).map(|(end, _)| &token[..end]);
        for text in prefixes.chain(std::iter::once(token)) {
            let Some(value) = entries.remove(text) else {
                continue;
            };
            let hash = hash_finish(hash_extend(HASH_START, text.as_bytes()));
            let (mut slot, tag) = slot_and_tag(hash, slots);
            while table[slot][1] != 0 {
                slot = (slot + 1) & (slots - 1);
            }
            table[slot] = [tag, value];
        }
    }
    table
}
