//! `tinkex version`: plain, --verbose and --json build facts; exit 0 and no network.

use serde_json::Value;

use crate::support::tinkex;

/// Runs `tinkex ARGS` with every network setting pointing at a closed loopback port.
fn version(args: &[&str]) -> crate::support::Outcome {
    tinkex(args)
        .env("TINKER_BASE_URL", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .run()
}

#[test]
fn plain_version_is_one_line() {
    let expected = format!("tinkex {}\n", env!("CARGO_PKG_VERSION"));
    for args in [&["version"][..], &["--version"][..]] {
        let out = version(args);
        assert_eq!(out.parts(), (0, expected.as_str(), ""), "{args:?}");
    }
}

#[test]
fn json_has_exactly_the_build_facts() {
    let out = version(&["version", "--json"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    let facts: Value = serde_json::from_str(&out.stdout).unwrap();
    let keys: Vec<&str> = facts
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["version", "commit", "target", "glibc_floor"]);
    assert_eq!(facts["version"], env!("CARGO_PKG_VERSION"));
    let commit = facts["commit"].as_str().unwrap();
    let is_sha = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(is_sha || commit == "unknown", "{commit}");
    let target = facts["target"].as_str().unwrap();
    assert!(target.starts_with(std::env::consts::ARCH), "{target}");
    assert!(target.contains(std::env::consts::OS), "{target}");
    let floor = facts["glibc_floor"].as_str().unwrap();
    assert!(!floor.is_empty(), "{facts}");
}

#[test]
fn verbose_text_matches_the_json() {
    let facts: Value = serde_json::from_str(&version(&["version", "--json"]).stdout).unwrap();
    let out = version(&["version", "--verbose"]);
    let expected = format!(
        "tinkex {}\ncommit: {}\ntarget: {}\nglibc floor: {}\n",
        env!("CARGO_PKG_VERSION"),
        facts["commit"].as_str().unwrap(),
        facts["target"].as_str().unwrap(),
        facts["glibc_floor"].as_str().unwrap(),
    );
    assert_eq!(out.parts(), (0, expected.as_str(), ""));
}

#[test]
fn unknown_version_flag_is_a_usage_error() {
    let out = version(&["version", "--bogus"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with("tinkex: error: "), "{out:?}");
    assert!(out.stderr.contains("--bogus"), "{out:?}");
}
