//! What a session says about its job: a display name and string metadata, sent with
//! `create_session` so billing can attribute usage to the job.

use serde_json::{Map, Value};

/// A session's `display_name` (omitted when unset) and `user_metadata` (string values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionMeta {
    /// `--session-name`.
    pub display_name: Option<String>,
    /// `--meta KEY=VALUE`, in the order given (a repeated key keeps its last value).
    pub user_metadata: Vec<(String, String)>,
}

impl SessionMeta {
    /// Sets `key` to `value`, replacing an earlier value of the same key in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.user_metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.user_metadata.push((key, value)),
        }
    }

    /// The `user_metadata` object of the request body.
    pub(crate) fn metadata_json(&self) -> Map<String, Value> {
        self.user_metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_keeps_its_place_and_last_value() {
        let mut m = SessionMeta::default();
        m.insert("job", "a");
        m.insert("shard", "1/4");
        m.insert("job", "b");
        assert_eq!(
            serde_json::Value::Object(m.metadata_json()).to_string(),
            r#"{"job":"b","shard":"1/4"}"#
        );
    }
}
