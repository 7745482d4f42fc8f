//! Library-level downloads of external-weights checkpoints against a raw 127.0.0.1 server:
//! no credential reaches storage, resume after a reset or a stall, re-signing, 200 instead
//! of 206, lying lengths, hostile names, and --force.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tinkex::client::{Config, ExportClient, RetryPolicy};
use tinkex::download::{self, FetchPolicy, Options, Target};
use tinkex::Deadline;

use crate::support::download::{bytes, DownloadServer, Fault};
use crate::support::KEY;

pub const PATH: &str = "tinker://run-1/external_weights/final";

/// A client for `server`: no retry waits, a 20 s deadline.
pub fn client(server: &DownloadServer) -> ExportClient {
    let mut config = Config::new(KEY, server.url());
    config.retry = RetryPolicy::scaled(0.0);
    config.deadline = Deadline::after(Duration::from_secs(20));
    ExportClient::connect(config.with_heartbeat_interval(Duration::from_secs(3600))).unwrap()
}

/// Options writing into `out`, with a 300 ms stall window and no pause between attempts.
pub fn options(out: &Path, force: bool) -> Options {
    Options {
        out: out.to_path_buf(),
        force,
        policy: FetchPolicy {
            stall: Duration::from_millis(300),
            pause: Duration::ZERO,
            max_fruitless: 4,
        },
    }
}

/// A fresh scratch directory.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinkex-dl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a download of `path` into `out`.
pub fn fetch(
    server: &DownloadServer,
    path: &str,
    out: &Path,
    force: bool,
) -> tinkex::Result<download::Summary> {
    let target = Target::parse(path)?;
    download::download(&client(server), &target, &options(out, force), &mut |_| {
        Ok(())
    })
}

/// What `out` holds: every entry's relative path (hidden staging leftovers included).
pub fn entries(out: &Path) -> Vec<String> {
    let mut all = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            all.push(p.strip_prefix(out).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    all.sort();
    all
}

fn two_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("adapter_config.json", br#"{"r": 8}"#.to_vec()),
        ("adapter_model.safetensors", bytes(3_000_000, 1)),
    ]
}

#[test]
fn files_land_named_as_the_official_cli_names_them_and_no_credential_reaches_storage() {
    let server = DownloadServer::start(&two_files());
    server.with(|s| {
        s.faults.insert(
            "adapter_config.json".into(),
            Fault {
                redirect: true,
                ..Fault::default()
            },
        );
    });
    let out = scratch("plain");
    let summary = fetch(&server, PATH, &out, false).unwrap();
    let dest = out.join("run-1_external_weights_final");
    assert_eq!(summary.destination, dest);
    assert_eq!(summary.file_size_bytes, 3_000_008);
    assert_eq!(
        std::fs::read(dest.join("adapter_model.safetensors")).unwrap(),
        bytes(3_000_000, 1)
    );
    assert_eq!(
        std::fs::read(dest.join("adapter_config.json")).unwrap(),
        br#"{"r": 8}"#
    );
    assert_eq!(
        entries(&out),
        [
            "run-1_external_weights_final",
            "run-1_external_weights_final/adapter_config.json",
            "run-1_external_weights_final/adapter_model.safetensors"
        ]
    );
    let storage = server.storage();
    assert_eq!(storage.len(), 3, "{storage:?}");
    assert!(
        storage.iter().any(|s| s.path.starts_with("/moved/")),
        "the redirect was followed"
    );
    for seen in &storage {
        for (name, value) in &seen.headers {
            let lower = name.to_ascii_lowercase();
            assert!(
                ![
                    "x-api-key",
                    "authorization",
                    "cookie",
                    "proxy-authorization"
                ]
                .contains(&lower.as_str()),
                "{name} reached storage"
            );
            assert!(!value.contains(KEY), "the key reached storage in {name}");
        }
    }
    assert!(
        server.api_calls().iter().all(|c| !c.contains("/ttl")),
        "no TTL renewal for a plain external checkpoint"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_reset_mid_file_resumes_from_the_last_byte_written() {
    let server = DownloadServer::start(&two_files());
    server.with(|s| {
        s.faults.insert(
            "adapter_model.safetensors".into(),
            Fault {
                reset_after: Some(1_000_000),
                ..Fault::default()
            },
        );
    });
    let out = scratch("reset");
    fetch(&server, PATH, &out, false).unwrap();
    let dest = out.join("run-1_external_weights_final");
    assert_eq!(
        std::fs::read(dest.join("adapter_model.safetensors")).unwrap(),
        bytes(3_000_000, 1)
    );
    let served = server.served("adapter_model.safetensors");
    assert!(
        served < 3_000_000 + 1_000_000,
        "refetched from zero: {served} bytes served"
    );
    let ranges: Vec<_> = server
        .storage()
        .iter()
        .filter_map(|s| s.header("range").map(str::to_string))
        .collect();
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    let from: usize = ranges[0]
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(from > 0 && from <= 1_000_000, "resumed at {from}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_stalled_body_is_given_up_and_resumed() {
    let server = DownloadServer::start(&two_files());
    server.with(|s| {
        s.faults.insert(
            "adapter_model.safetensors".into(),
            Fault {
                stall_after: Some(500_000),
                ..Fault::default()
            },
        );
    });
    let out = scratch("stall");
    fetch(&server, PATH, &out, false).unwrap();
    let dest = out.join("run-1_external_weights_final/adapter_model.safetensors");
    assert_eq!(std::fs::read(dest).unwrap(), bytes(3_000_000, 1));
    assert!(server.storage().iter().any(|s| s.header("range").is_some()));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_expired_url_is_signed_again_and_the_file_resumes() {
    let server = DownloadServer::start(&[("model.bin", bytes(2_000_000, 2))]);
    server.with(|s| {
        s.faults.insert(
            "model.bin".into(),
            Fault {
                reset_after: Some(700_000),
                ..Fault::default()
            },
        );
        s.expire_after_gets = Some(1);
    });
    let out = scratch("expired");
    fetch(&server, PATH, &out, false).unwrap();
    let dest = out.join("run-1_external_weights_final/model.bin");
    assert_eq!(std::fs::read(dest).unwrap(), bytes(2_000_000, 2));
    let signs = server
        .api_calls()
        .iter()
        .filter(|c| c.ends_with("/external_weights_urls"))
        .count();
    assert_eq!(signs, 2);
    let statuses: Vec<_> = server
        .storage()
        .iter()
        .map(|s| s.header("range").unwrap_or("-").to_string())
        .collect();
    assert_eq!(
        statuses.len(),
        3,
        "first GET, the 403, the resumed GET: {statuses:?}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn urls_about_to_expire_are_signed_again_before_use() {
    let server = DownloadServer::start(&two_files());
    let soon = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)).to_string();
    server.with(|s| s.expires = soon);
    let out = scratch("soon");
    fetch(&server, PATH, &out, false).unwrap();
    let signs = server
        .api_calls()
        .iter()
        .filter(|c| c.ends_with("/external_weights_urls"))
        .count();
    assert_eq!(
        signs, 3,
        "signed at the start, then before each of the two files"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_server_ignoring_range_restarts_the_file_and_never_appends() {
    let server = DownloadServer::start(&[("model.bin", bytes(1_500_000, 3))]);
    server.with(|s| {
        s.faults.insert(
            "model.bin".into(),
            Fault {
                reset_after: Some(400_000),
                ignore_range: true,
                ..Fault::default()
            },
        );
    });
    let out = scratch("norange");
    fetch(&server, PATH, &out, false).unwrap();
    let got = std::fs::read(out.join("run-1_external_weights_final/model.bin")).unwrap();
    assert_eq!(got.len(), 1_500_000);
    assert_eq!(got, bytes(1_500_000, 3));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_body_shorter_or_longer_than_its_length_fails_with_exit_4_and_leaves_nothing() {
    let short = Fault {
        claimed_length: Some(2_000_000),
        ..Fault::default()
    };
    let long = Fault {
        reset_after: Some(100_000),
        long_206: Some(10),
        ..Fault::default()
    };
    for (tag, fault) in [("short", short), ("long", long)] {
        let server = DownloadServer::start(&[("model.bin", bytes(1_000_000, 4))]);
        server.with(|s| {
            s.faults.insert("model.bin".into(), fault);
        });
        let out = scratch(tag);
        let err = fetch(&server, PATH, &out, false).unwrap_err();
        assert_eq!(err.exit_code(), 4, "{tag}: {err}");
        assert!(entries(&out).is_empty(), "{tag}: {:?}", entries(&out));
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn hostile_file_names_are_refused_before_any_file_is_fetched() {
    for bad in ["../escape", "/etc/passwd", "a/../../b", "sub/../../../c"] {
        let server =
            DownloadServer::start(&[("ok.bin", b"fine".to_vec()), (bad, b"evil".to_vec())]);
        let out = scratch("hostile-name");
        let err = fetch(&server, PATH, &out, false).unwrap_err();
        assert_eq!(err.exit_code(), 4, "{bad}: {err}");
        assert!(err.to_string().contains("refusing"), "{err}");
        assert!(server.storage().is_empty(), "{bad}: storage was asked");
        assert!(entries(&out).is_empty(), "{bad}: {:?}", entries(&out));
        assert!(!out.parent().unwrap().join("escape").exists());
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn an_existing_destination_is_refused_before_any_request_unless_forced() {
    let server = DownloadServer::start(&two_files());
    let out = scratch("force");
    let dest = out.join("run-1_external_weights_final");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("old.bin"), b"old").unwrap();
    let err = fetch(&server, PATH, &out, false).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    // A forced download that fails keeps the old destination whole.
    server.with(|s| s.valid_from = u64::MAX);
    let err = fetch(&server, PATH, &out, true).unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert_eq!(
        entries(&out),
        [
            "run-1_external_weights_final",
            "run-1_external_weights_final/old.bin"
        ]
    );
    server.with(|s| s.valid_from = 0);
    fetch(&server, PATH, &out, true).unwrap();
    assert_eq!(
        entries(&out),
        [
            "run-1_external_weights_final",
            "run-1_external_weights_final/adapter_config.json",
            "run-1_external_weights_final/adapter_model.safetensors"
        ]
    );
    std::fs::remove_dir_all(&out).unwrap();
}
