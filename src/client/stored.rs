//! The key `tinker auth login` stored in `~/.tinker/credentials.json`: read, never written.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// More than this cannot be a credentials file written by `tinker auth login`.
const MAX_FILE: u64 = 1024 * 1024;

/// The default key `tinker auth login` stored, and the file it came from.
pub(crate) struct StoredKey {
    /// The key itself (a secret).
    pub key: String,
    /// `$HOME/.tinker/credentials.json`.
    pub path: PathBuf,
}

/// Where `tinker auth login` keeps its keys, under `home`.
pub(crate) fn credentials_path(home: &str) -> PathBuf {
    Path::new(home).join(".tinker").join("credentials.json")
}

/// Reads the stored default key; `None` when nothing is stored (no `HOME`, no file, no default).
pub(crate) fn stored_key(home: Option<&str>) -> Result<Option<StoredKey>> {
    let Some(home) = home.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let path = credentials_path(home);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(&path, &format!("cannot be read: {e}"))),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| file_error(&path, &format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(file_error(&path, "is larger than 1 MiB"));
    }
    let key = default_key(&bytes).map_err(|what| file_error(&path, &what))?;
    Ok(key.map(|key| {
        crate::redact::register_secret(&key);
        StoredKey { key, path }
    }))
}

/// An auth error about the credentials file: its path and what is wrong, never its contents.
fn file_error(path: &Path, what: &str) -> Error {
    Error::Auth {
        message: format!("the credentials file {} {what}", path.display()),
        hint: Some(
            "run 'tinker auth login' again, or give a key with --api-key or TINKER_API_KEY"
                .to_string(),
        ),
    }
}

/// `keys[default].key` of the file's JSON; the error says what is wrong without quoting values.
fn default_key(bytes: &[u8]) -> std::result::Result<Option<String>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let top = value
        .as_object()
        .ok_or("does not hold a JSON object at the top level")?;
    let keys = match top.get("keys") {
        None | Some(Value::Null) => None,
        Some(Value::Object(keys)) => Some(keys),
        Some(_) => return Err("has a \"keys\" field that is not an object".into()),
    };
    let default = match top.get("default") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) => name,
        Some(_) => return Err("has a \"default\" field that is neither a string nor null".into()),
    };
    let Some(entry) = keys.and_then(|keys| keys.get(default)) else {
        return Ok(None);
    };
    match entry.get("key") {
        Some(Value::String(key)) if !key.trim().is_empty() => Ok(Some(key.trim().to_string())),
        Some(Value::String(_)) => Err("has an empty \"key\" for its default entry".into()),
        _ => Err("has no string \"key\" in its default entry".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<Option<String>, String> {
        default_key(text.as_bytes())
    }

    #[test]
    fn the_default_entry_gives_the_key() {
        let file = r#"{"version":1,"default":"work","keys":{"work":{"type":"manual","key":"tml-stored","name":"work"},"other":{"key":"tml-other"}},"extra":[1]}"#;
        assert_eq!(parse(file), Ok(Some("tml-stored".into())));
    }

    #[test]
    fn nothing_stored_is_none() {
        assert_eq!(parse(r#"{"version":1,"default":null,"keys":{}}"#), Ok(None));
        assert_eq!(
            parse(r#"{"version":1,"keys":{"a":{"key":"tml-a"}}}"#),
            Ok(None)
        );
        assert_eq!(
            parse(r#"{"default":"gone","keys":{"a":{"key":"tml-a"}}}"#),
            Ok(None)
        );
        assert!(stored_key(None).unwrap().is_none());
        assert!(stored_key(Some("")).unwrap().is_none());
    }

    #[test]
    fn a_malformed_file_says_what_is_wrong_without_quoting_it() {
        let cases = [
            (
                r#"{"default":"w","keys":{"w":{"key":"tml-secret-x"}"#,
                "not valid JSON",
            ),
            (r#"["tml-secret-x"]"#, "top level"),
            (r#"{"default":5,"keys":{}}"#, "\"default\""),
            (r#"{"default":"w","keys":"tml-secret-x"}"#, "\"keys\""),
            (
                r#"{"default":"w","keys":{"w":{"key":7}}}"#,
                "no string \"key\"",
            ),
            (
                r#"{"default":"w","keys":{"w":"tml-secret-x"}}"#,
                "no string",
            ),
            (r#"{"default":"w","keys":{"w":{"key":" "}}}"#, "empty"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }
}
