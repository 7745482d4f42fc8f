//! `tinkex version`'s execution: the version alone, or with the build facts.

use serde_json::json;

use super::config::Config;
use crate::error::Result;

/// The git commit the binary was built from ("unknown" from a source tree without git).
pub const COMMIT: &str = env!("TINKEX_BUILD_COMMIT");
/// The target triple the binary was built for.
pub const TARGET: &str = env!("TINKEX_BUILD_TARGET");
/// The oldest glibc the binary runs on: "2.17" for `make dist` builds, "host" when it was
/// linked against the build machine's glibc, "none" for a non-glibc target.
pub const GLIBC_FLOOR: &str = env!("TINKEX_BUILD_GLIBC_FLOOR");

/// Prints what `tinkex version` prints for `config`.
pub fn execute(config: &Config) -> Result<()> {
    print!("{}", text(config));
    Ok(())
}

/// What `tinkex version` prints for `args`, newline-terminated.
fn text(args: &Config) -> String {
    let version = crate::VERSION;
    if args.json {
        let facts = json!({
            "version": version,
            "commit": COMMIT,
            "target": TARGET,
            "glibc_floor": GLIBC_FLOOR,
        });
        format!("{facts}\n")
    } else if args.verbose {
        format!(
            "tinkex {version}\ncommit: {COMMIT}\ntarget: {TARGET}\nglibc floor: {GLIBC_FLOOR}\n"
        )
    } else {
        format!("tinkex {version}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_verbose_and_json() {
        let plain = Config::default();
        assert_eq!(text(&plain), format!("tinkex {}\n", crate::VERSION));
        let verbose = text(&Config {
            verbose: true,
            ..Config::default()
        });
        assert!(
            verbose.contains(&format!("target: {TARGET}\n")),
            "{verbose}"
        );
        let json = text(&Config {
            json: true,
            verbose: true,
        });
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["commit"], COMMIT);
    }
}
