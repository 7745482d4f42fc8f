//! What a run tells its session about the job, so billing can attribute usage to it: the
//! flags' name and metadata and, for a batch, its input file's name and its shard.

use std::fmt::Display;

use super::prompt::Source;
use super::settings::{Mode, RunConfig};
use crate::client::SessionMeta;

/// The metadata key naming a batch's input file.
pub const INPUT_KEY: &str = "input";
/// The metadata key naming a sharded batch's shard (`K/N`, 1-based).
pub const SHARD_KEY: &str = "shard";

/// `--session-name` and `--meta`, plus `"input"` (the file's name, without its directory) for
/// a batch read from a file; stdin has no name to record.
pub fn job_meta(config: &RunConfig) -> SessionMeta {
    let mut meta = config.session.clone();
    if let Mode::Batch(batch) = &config.mode {
        if let Source::File(path) = &batch.input {
            if let Some(name) = path.file_name() {
                add_default(&mut meta, INPUT_KEY, name.to_string_lossy().into_owned());
            }
        }
    }
    meta
}

/// Adds `"shard": "K/N"` for a sharded batch (the shard as resolved, `auto` included).
pub fn add_shard(meta: &mut SessionMeta, shard: Option<impl Display>) {
    if let Some(shard) = shard {
        add_default(meta, SHARD_KEY, shard.to_string());
    }
}

/// Sets `key` unless `--meta` gave it: what a user typed wins over what tinkex infers.
fn add_default(meta: &mut SessionMeta, key: &str, value: String) {
    if !meta.user_metadata.iter().any(|(k, _)| k == key) {
        meta.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inferred_keys_never_replace_the_users() {
        let mut meta = SessionMeta::default();
        meta.insert("shard", "mine");
        add_shard(&mut meta, Some("2/4"));
        add_default(&mut meta, INPUT_KEY, "in.jsonl".into());
        assert_eq!(
            meta.user_metadata,
            [
                ("shard".into(), "mine".into()),
                ("input".into(), "in.jsonl".into())
            ]
        );
        add_shard(&mut meta, None::<&str>);
        assert_eq!(meta.user_metadata.len(), 2);
    }
}
