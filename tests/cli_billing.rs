//! `tinkex billing usage|checkpoint-storage` as a user runs them: `--json` and the CSV files
//! equal the official CLI's bytes (fixtures/billing/golden), the plain table, exit 3 with
//! the server's reason for a key without the role, and validation that sends nothing.

use std::time::Duration;

use crate::cli_lifecycle::Counting;
use crate::support::lifecycle_api::{golden, golden_text, LifecycleApi, NO_ROLE_KEY};
use crate::support::{tinkex, Outcome, KEY};

fn run_at(url: &str, key: &str, args: &[&str]) -> Outcome {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--base-url", url, "--api-key", key]);
    tinkex(&all).run()
}

fn argv(case: &str) -> Vec<String> {
    golden("billing", case)["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn json_documents_equal_the_official_cli_byte_for_byte() {
    for case in ["usage", "usage_empty", "storage", "storage_project"] {
        let api = LifecycleApi::start(None);
        let args = argv(case);
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push("--json");
        let out = run_at(&api.url(), KEY, &all);
        assert_eq!(out.code, 0, "{case}: {out:?}");
        assert_eq!(
            out.stdout,
            golden_text("billing", &format!("{case}.stdout")),
            "{case}"
        );
        assert_eq!(
            api.requests(),
            golden("billing", case)["requests"]
                .as_array()
                .unwrap()
                .clone(),
            "{case}"
        );
        assert!(
            out.elapsed < Duration::from_secs(1),
            "{case}: {:?}",
            out.elapsed
        );
    }
}

#[test]
fn csv_files_equal_the_official_cli() {
    let dir = tempfile::tempdir().unwrap();
    let usage = dir.path().join("usage.csv").display().to_string();
    let sessions = dir.path().join("sessions.csv").display().to_string();
    let storage = dir.path().join("storage.csv").display().to_string();
    let api = LifecycleApi::start(None);
    let args = argv("usage_csv");
    let all: Vec<&str> = args
        .iter()
        .map(|a| match a.as_str() {
            "{usage}" => usage.as_str(),
            "{sessions}" => sessions.as_str(),
            other => other,
        })
        .collect();
    let out = run_at(&api.url(), KEY, &all);
    assert_eq!(out.code, 0, "{out:?}");
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(&usage), golden_text("billing", "usage_csv.usage.csv"));
    assert_eq!(
        read(&sessions),
        golden_text("billing", "usage_csv.sessions.csv")
    );
    let out = run_at(
        &api.url(),
        KEY,
        &["billing", "checkpoint-storage", "--csv", &storage],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        read(&storage),
        golden_text("billing", "storage_csv.storage.csv")
    );
    // Nothing but the three files: no temp file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn the_plain_output_is_a_short_table_with_the_headline_first() {
    let api = LifecycleApi::start(None);
    let out = run_at(
        &api.url(),
        KEY,
        &["billing", "usage", "2026-07-13", "2026-07-14"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let first = out.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("Usage from 2026-07-13T00:00:00Z to 2026-07-14T00:00:00Z: $"),
        "{out:?}"
    );
    assert!(out.stdout.contains("Cost data complete through"), "{out:?}");
    assert!(out.stdout.contains("Model"), "{out:?}");
    assert!(out.stdout.contains("Prefill") && out.stdout.contains("Training"));
    assert!(
        out.stdout.lines().any(|l| l.starts_with("Total ")),
        "{out:?}"
    );
    let out = run_at(&api.url(), KEY, &["billing", "checkpoint-storage"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("Checkpoint storage: "), "{out:?}");
    assert!(out.stdout.contains("proj-1"), "{out:?}");
}

#[test]
fn a_key_without_the_billing_role_is_exit_3_with_the_servers_reason() {
    let api = LifecycleApi::start(None);
    for args in [
        &["billing", "usage", "2026-07-13", "2026-07-14"][..],
        &["billing", "checkpoint-storage"][..],
    ] {
        let out = run_at(&api.url(), NO_ROLE_KEY, args);
        assert_eq!(out.code, 3, "{out:?}");
        assert!(
            out.stderr
                .contains("Billing access requires the admin role"),
            "{out:?}"
        );
        assert_eq!(out.stdout, "");
    }
    assert_eq!(api.requests().len(), 2);
}

#[test]
fn every_validation_refusal_exits_2_and_sends_nothing() {
    let server = Counting::start();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/u.csv").display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["billing", "usage", "2026-07-13T00:30:00Z", "2026-07-14"],
            "START",
        ),
        (&["billing", "usage", "2026-07-13", "2026-07-13"], "END"),
        (&["billing", "usage", "2026-07-01", "2026-07-16"], "14 days"),
        (&["billing", "usage", "2999-01-01", "2999-01-02"], "future"),
        (&["billing", "usage", "yesterday", "2026-07-14"], "START"),
        (&["billing", "usage", "2026-07-13"], "END"),
        (&["billing", "usage"], "START END"),
        (&["billing", "usage", "--last", "90m"], "--last"),
        (&["billing", "usage", "--last", "15d"], "--last"),
        (
            &[
                "billing",
                "usage",
                "2026-07-13",
                "2026-07-14",
                "--last",
                "1d",
            ],
            "--last",
        ),
        (
            &["billing", "usage", "--last", "1d", "--csv", &missing],
            "--csv",
        ),
        (
            &["billing", "checkpoint-storage", "--csv", &missing],
            "--csv",
        ),
        (
            &["billing", "checkpoint-storage", "--project-id", " "],
            "--project-id",
        ),
    ];
    let url = server.url();
    for (args, named) in cases {
        let out = run_at(&url, KEY, args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(named), "{args:?}: {out:?}");
    }
    assert_eq!(server.count(), 0, "a refusal sent a request");
}
