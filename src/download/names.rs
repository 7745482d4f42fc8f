//! Names: which checkpoint a path points at, the destination the official CLI would pick,
//! and the check every relative file or archive member name passes before it is written.

use std::path::{Component, Path, PathBuf};

use crate::client::CheckpointPath;
use crate::error::{Error, Result};

/// Longest relative name accepted (bytes); longer ones are refused as hostile.
pub const MAX_NAME: usize = 4096;

/// What a checkpoint path points at, which decides how it is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `external_weights/…`: signed URLs, one per file.
    External,
    /// `weights/…`: training weights, fetched through a temporary export.
    Weights,
    /// `sampler_weights/…`: one archive (tar or tar.gz).
    Sampler,
}

/// A parsed `tinker://RUN/KIND/NAME` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The whole path as given.
    pub path: String,
    /// `RUN`.
    pub run: String,
    /// `KIND/NAME`, as the checkpoint endpoints take it.
    pub id: String,
    /// What `KIND` says.
    pub kind: Kind,
}

impl Target {
    /// Parses a checkpoint path; anything else is the user's error (exit 2).
    pub fn parse(path: &str) -> Result<Target> {
        let parsed = CheckpointPath::parse(path).ok_or_else(|| Error::Input {
            message: format!("invalid checkpoint path: {path}"),
            hint: Some(
                "expected tinker://RUN/weights/NAME, tinker://RUN/sampler_weights/NAME or \
                 tinker://RUN/external_weights/NAME"
                    .to_string(),
            ),
        })?;
        let kind = match parsed.checkpoint_type {
            "training" => Kind::Weights,
            "sampler" => Kind::Sampler,
            _ => Kind::External,
        };
        let id = path["tinker://".len() + parsed.training_run_id.len() + 1..].to_string();
        Ok(Target {
            path: parsed.path,
            run: parsed.training_run_id,
            id,
            kind,
        })
    }

    /// The destination's name, as the official CLI makes it: the path without `tinker://`,
    /// every `/` turned into `_`.
    pub fn destination_name(&self) -> String {
        self.path["tinker://".len()..].replace('/', "_")
    }

    /// `out/<destination name>`, refusing a name that is not one plain path component.
    pub fn destination(&self, out: &Path) -> Result<PathBuf> {
        let name = self.destination_name();
        let plain = matches!(
            Path::new(&name).components().collect::<Vec<_>>().as_slice(),
            [Component::Normal(_)]
        );
        if !plain || name.starts_with('.') || name.contains('\0') {
            return Err(Error::input(format!(
                "invalid checkpoint path: {} (its destination name {name:?} is not a plain file name)",
                self.path
            )));
        }
        Ok(out.join(name))
    }
}

/// Checks a relative name from the server (a file of the checkpoint, an archive member):
/// not empty, not absolute, no `.`/`..` parts, no NUL or backslash, at most
/// [`crate::cleanup::MAX_TREE_DEPTH`] parts deep. `Err` says what is wrong.
pub fn relative(name: &str) -> std::result::Result<PathBuf, String> {
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("an empty name".to_string());
    }
    if trimmed.len() > MAX_NAME {
        return Err(format!("a name of {} bytes", trimmed.len()));
    }
    if trimmed.contains('\0') || trimmed.contains('\\') {
        return Err("a name with a NUL or a backslash".to_string());
    }
    if trimmed.starts_with('/') {
        return Err("an absolute path".to_string());
    }
    let mut out = PathBuf::new();
    for part in trimmed.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err("a '..' part".to_string()),
            other => out.push(other),
        }
    }
    let depth = out.components().count();
    if depth == 0 {
        return Err("an empty name".to_string());
    }
    if depth as u32 >= crate::cleanup::MAX_TREE_DEPTH {
        return Err(format!("a name {depth} directories deep"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_is_named_as_the_official_cli_names_it() {
        let t = Target::parse("tinker://run-1:train:0/sampler_weights/final").unwrap();
        assert_eq!(t.kind, Kind::Sampler);
        assert_eq!(t.run, "run-1:train:0");
        assert_eq!(t.id, "sampler_weights/final");
        assert_eq!(
            t.destination(Path::new("out")).unwrap(),
            Path::new("out/run-1:train:0_sampler_weights_final")
        );
        let err = Target::parse("tinker://run/other/x").unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\\b",
            "a\0b",
            "./",
            "/",
        ] {
            assert!(relative(bad).is_err(), "{bad:?} accepted");
        }
        assert!(relative(&"a/".repeat(20)).is_err());
        assert_eq!(relative("./a/./b/").unwrap(), PathBuf::from("a/b"));
        assert_eq!(
            relative("adapter_model.safetensors").unwrap(),
            PathBuf::from("adapter_model.safetensors")
        );
    }
}
