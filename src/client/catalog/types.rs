//! The read endpoints' answers: models, training runs, checkpoints and list cursors.
//!
//! Every field is optional (servers differ in what they send). Fields serialize in the
//! official SDK's order, each present (`null` when the server sent none, as the SDK's
//! `model_dump` does); fields the SDK does not know are kept after them, so `--json`
//! loses nothing the server sent.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// One model the server offers (`get_server_capabilities`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct SupportedModel {
    /// The name to pass as `--base-model`.
    pub model_name: Option<String>,
    /// The longest context the model takes, in tokens.
    pub max_context_length: Option<Lenient<u64>>,
    /// Whether training runs can start from it.
    pub trainable: Option<bool>,
    /// Whether it has sampling capacity.
    pub sampleable: Option<bool>,
    /// Fields the SDK does not know, kept for `--json`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A training run (`training_runs`, `training_runs/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct TrainingRun {
    /// The run's id, the first part of its `tinker://` paths.
    pub training_run_id: Option<String>,
    /// The base model it trains.
    pub base_model: Option<String>,
    /// Who owns it.
    pub model_owner: Option<String>,
    /// Whether it trains a LoRA adapter.
    pub is_lora: Option<bool>,
    /// Whether the run is broken (the SDK's default: false).
    #[serde(default, deserialize_with = "null_is_false")]
    pub corrupted: bool,
    /// The LoRA rank, for LoRA runs.
    pub lora_rank: Option<Lenient<u64>>,
    /// When it last served a request, as the server wrote it.
    pub last_request_time: Option<String>,
    /// The newest training checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
    /// The newest sampler checkpoint.
    pub last_sampler_checkpoint: Option<Checkpoint>,
    /// The user's own labels.
    pub user_metadata: Option<Map<String, Value>>,
    /// Fields the SDK does not know, kept for `--json`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Saved weights (`checkpoints`, `training_runs/{id}/checkpoints`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Checkpoint {
    /// E.g. `weights/000500` or `sampler_weights/final`.
    pub checkpoint_id: Option<String>,
    /// `training`, `sampler` or `external`.
    pub checkpoint_type: Option<String>,
    /// When it was saved, as the server wrote it.
    pub time: Option<String>,
    /// The path to sample from (`--model-path`).
    pub tinker_path: Option<String>,
    /// Its size in bytes (may pass 2³²).
    pub size_bytes: Option<Lenient<i64>>,
    /// Whether anyone may use it (the SDK's default: false).
    #[serde(default, deserialize_with = "null_is_false")]
    pub public: bool,
    /// The user's own labels.
    pub user_metadata: Option<Map<String, Value>>,
    /// When it will be deleted; none = never.
    pub expires_at: Option<String>,
    /// Fields the SDK does not know, kept for `--json`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A number as the server sent it: the expected type when it is one, else the raw JSON (a
/// negative rank, a float size, a string), kept so that one odd field neither fails a whole
/// listing nor goes missing from `--json`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Lenient<T> {
    /// The expected type.
    Valid(T),
    /// Anything else, as sent.
    Odd(Value),
}

impl<T: Copy> Lenient<T> {
    /// The value when it has the expected type.
    pub fn valid(&self) -> Option<T> {
        match self {
            Lenient::Valid(value) => Some(*value),
            Lenient::Odd(_) => None,
        }
    }
}

/// Where a page of a list sits in the whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Cursor {
    /// The offset the page starts at.
    pub offset: Option<u64>,
    /// The page size asked for.
    pub limit: Option<u64>,
    /// How many items there are in all.
    pub total_count: Option<u64>,
}

/// The models of a `get_server_capabilities` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Capabilities {
    pub supported_models: Vec<SupportedModel>,
}

/// One page of training runs.
#[derive(Debug, Deserialize)]
pub(crate) struct RunsPage {
    pub training_runs: Vec<TrainingRun>,
    #[serde(default)]
    pub cursor: Option<Cursor>,
}

/// One page of checkpoints (no cursor for a single run's list).
#[derive(Debug, Deserialize)]
pub(crate) struct CheckpointsPage {
    pub checkpoints: Vec<Checkpoint>,
    #[serde(default)]
    pub cursor: Option<Cursor>,
}

/// What a list command fetched, and how many the server has in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    /// The items, in the server's order.
    pub items: Vec<T>,
    /// `total_count` from the first page's cursor (the fetched count when it has none).
    pub total_count: u64,
}

/// A parsed `tinker://RUN/KIND/NAME` checkpoint path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPath {
    /// The whole path, as given.
    pub path: String,
    /// `RUN`.
    pub training_run_id: String,
    /// `training`, `sampler` or `external`, from `KIND`.
    pub checkpoint_type: &'static str,
}

impl CheckpointPath {
    /// Parses the SDK's path form: exactly three parts, `KIND` one of `weights`,
    /// `sampler_weights`, `external_weights`.
    pub fn parse(path: &str) -> Option<CheckpointPath> {
        let rest = path.strip_prefix("tinker://")?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [run, kind, name] = parts.as_slice() else {
            return None;
        };
        let checkpoint_type = match *kind {
            "weights" => "training",
            "sampler_weights" => "sampler",
            "external_weights" => "external",
            _ => return None,
        };
        if run.is_empty() || name.is_empty() {
            return None;
        }
        Some(CheckpointPath {
            path: path.to_string(),
            training_run_id: (*run).to_string(),
            checkpoint_type,
        })
    }
}

/// A checkpoint with its run's LoRA settings (`checkpoint info`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointInfo {
    /// The checkpoint as the run's list gave it.
    #[serde(flatten)]
    pub checkpoint: Checkpoint,
    /// The run's `is_lora`.
    pub is_lora: Option<bool>,
    /// The run's `lora_rank`.
    pub lora_rank: Option<Lenient<u64>>,
}

fn null_is_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_become_null_and_unknown_ones_stay() {
        let run: TrainingRun =
            serde_json::from_str(r#"{"training_run_id":"r1","corrupted":null,"new_field":[1]}"#)
                .unwrap();
        assert!(!run.corrupted);
        let out = serde_json::to_value(&run).unwrap();
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "training_run_id",
                "base_model",
                "model_owner",
                "is_lora",
                "corrupted",
                "lora_rank",
                "last_request_time",
                "last_checkpoint",
                "last_sampler_checkpoint",
                "user_metadata",
                "new_field"
            ]
        );
        assert_eq!(out["new_field"], serde_json::json!([1]));
        assert_eq!(out["corrupted"], Value::Bool(false));
    }

    #[test]
    fn odd_numbers_are_kept_as_sent_instead_of_failing() {
        let run: TrainingRun =
            serde_json::from_str(r#"{"lora_rank":-3,"training_run_id":"r"}"#).unwrap();
        assert_eq!(run.lora_rank, Some(Lenient::Odd(serde_json::json!(-3))));
        let c: Checkpoint = serde_json::from_str(r#"{"size_bytes":1.5}"#).unwrap();
        assert_eq!(c.size_bytes.as_ref().and_then(Lenient::valid), None);
        assert_eq!(serde_json::to_value(&c).unwrap()["size_bytes"], 1.5);
        let c: Checkpoint = serde_json::from_str(r#"{"size_bytes":42}"#).unwrap();
        assert_eq!(c.size_bytes, Some(Lenient::Valid(42)));
    }

    #[test]
    fn checkpoint_paths_follow_the_sdk() {
        let p = CheckpointPath::parse("tinker://run-1/sampler_weights/final").unwrap();
        assert_eq!(p.training_run_id, "run-1");
        assert_eq!(p.checkpoint_type, "sampler");
        for bad in [
            "run-1/weights/x",
            "tinker://run-1/weights",
            "tinker://run-1/weights/a/b",
            "tinker://run-1/other/x",
            "tinker:///weights/x",
            "tinker://r/weights/",
        ] {
            assert_eq!(CheckpointPath::parse(bad), None, "{bad}");
        }
    }
}
