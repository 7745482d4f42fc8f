//! Sampler checkpoints (the archive endpoint) and training weights (the temporary export)
//! against the raw loopback server: 503 then success, tar and tar.gz, hostile members, and
//! the export's request sequence and clean-up.

use serde_json::Value;

use crate::download_external::{entries, fetch, scratch};
use crate::support::download::{bytes, gzip, tar, DownloadServer, Fault, Member};

const SAMPLER: &str = "tinker://run-1/sampler_weights/final";
const WEIGHTS: &str = "tinker://run-1/weights/final";

fn archive() -> Vec<u8> {
    tar(&[
        Member("adapter_config.json", b'0', br#"{"r": 8}"#),
        Member("sub/", b'5', b""),
        Member("sub/adapter_model.safetensors", b'0', &bytes(700_000, 5)),
    ])
}

#[test]
fn a_503_while_the_archive_is_built_is_waited_out_then_tar_and_tar_gz_unpack() {
    for (tag, body) in [("tar", archive()), ("targz", gzip(&archive()))] {
        let server = DownloadServer::start(&[("archive", body)]);
        server.with(|s| s.archive_503 = 2);
        let out = scratch(tag);
        let summary = fetch(&server, SAMPLER, &out, false).unwrap();
        assert_eq!(summary.file_size_bytes, 700_008);
        let dest = out.join("run-1_sampler_weights_final");
        assert_eq!(
            std::fs::read(dest.join("sub/adapter_model.safetensors")).unwrap(),
            bytes(700_000, 5)
        );
        assert_eq!(
            entries(&out),
            [
                "run-1_sampler_weights_final",
                "run-1_sampler_weights_final/adapter_config.json",
                "run-1_sampler_weights_final/sub",
                "run-1_sampler_weights_final/sub/adapter_model.safetensors"
            ]
        );
        let asks = server
            .api_calls()
            .iter()
            .filter(|c| c.ends_with("/archive"))
            .count();
        assert_eq!(asks, 3, "{tag}: two 503s, then the redirect");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn an_archive_reset_mid_body_resumes() {
    let server = DownloadServer::start(&[("archive", archive())]);
    server.with(|s| {
        s.faults.insert(
            "archive".into(),
            Fault {
                reset_after: Some(300_000),
                ..Fault::default()
            },
        );
    });
    let out = scratch("archive-reset");
    fetch(&server, SAMPLER, &out, false).unwrap();
    assert!(server.served("archive") < archive().len() + 300_000);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn each_hostile_member_is_refused_with_exit_4_and_nothing_written() {
    let long_name = format!("{}/x", "d".repeat(120));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "absolute",
            tar(&[Member("/tmp/tinkex-evil", b'0', b"evil")]),
        ),
        (
            "dotdot",
            tar(&[
                Member("ok", b'0', b"1"),
                Member("../tinkex-evil", b'0', b"evil"),
            ]),
        ),
        ("symlink", tar(&[Member("link", b'2', b"/etc")])),
        ("hardlink", tar(&[Member("hard", b'1', b"/etc/passwd")])),
        ("chardev", tar(&[Member("dev", b'3', b"")])),
        ("blockdev", tar(&[Member("blk", b'4', b"")])),
        ("fifo", tar(&[Member("fifo", b'6', b"")])),
        (
            "gnu-long-dotdot",
            tar(&[
                Member("././@LongLink", b'L', b"../../tinkex-evil"),
                Member("short", b'0', b"evil"),
            ]),
        ),
        (
            "pax-absolute",
            tar(&[
                Member("pax", b'x', b"30 path=/tmp/tinkex-evil-pax\n"),
                Member("short", b'0', b"evil"),
            ]),
        ),
        ("truncated", archive()[..1200].to_vec()),
        ("bad-checksum", {
            let mut t = archive();
            t[0] ^= 1;
            t
        }),
        (
            "too-deep",
            tar(&[
                Member(&"a/".repeat(17), b'5', b""),
                Member(&long_name, b'0', b"x"),
            ]),
        ),
    ];
    for (tag, body) in cases {
        for (form, data) in [("tar", body.clone()), ("gz", gzip(&body))] {
            let server = DownloadServer::start(&[("archive", data)]);
            let out = scratch(&format!("hostile-{tag}-{form}"));
            let err = fetch(&server, SAMPLER, &out, false).unwrap_err();
            assert_eq!(err.exit_code(), 4, "{tag}/{form}: {err}");
            assert!(
                entries(&out).is_empty(),
                "{tag}/{form}: {:?}",
                entries(&out)
            );
            std::fs::remove_dir_all(&out).unwrap();
        }
    }
    assert!(!std::path::Path::new("/tmp/tinkex-evil").exists());
    assert!(!std::path::Path::new("/tmp/tinkex-evil-pax").exists());
}

/// The handshake (the official CLI makes it twice, one per SDK client; tinkex once) and the
/// timing-dependent heartbeats and telemetry are left out of the sequence comparison.
fn compared(path: &str) -> bool {
    let skipped = [
        "/client/config",
        "/client/dynamic_config",
        "/session_heartbeat",
        "/telemetry",
    ];
    path.starts_with("/api/") && !skipped.iter().any(|s| path.ends_with(s))
}

/// `METHOD path body` of each API call, for the golden comparison.
fn sequence(server: &DownloadServer) -> Vec<Value> {
    let seen = server.seen();
    let api = seen.iter().filter(|s| compared(&s.path));
    api.map(|s| {
        let body: Value = serde_json::from_str(&s.body).unwrap_or(Value::Null);
        serde_json::json!({"method": s.method, "path": s.path, "body": body})
    })
    .collect()
}

fn golden() -> Vec<Value> {
    let text =
        std::fs::read_to_string(crate::support::fixture("download/weights_sequence.json")).unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let kept = all
        .into_iter()
        .filter(|c| compared(c["path"].as_str().unwrap_or("")));
    kept.collect()
}

/// Compares two JSON bodies, ignoring values that vary per run (sdk_version, tags).
fn same_call(ours: &Value, theirs: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(body) = v.get_mut("body").and_then(Value::as_object_mut) {
            body.remove("sdk_version");
            body.remove("tags");
            body.remove("project_id");
        }
        v
    };
    strip(ours) == strip(theirs)
}

#[test]
fn a_weights_export_follows_the_official_sequence_and_is_cleaned_up() {
    let server = DownloadServer::start(&[
        ("adapter_model.safetensors", bytes(400_000, 6)),
        ("adapter_config.json", b"{}".to_vec()),
    ]);
    let out = scratch("weights");
    let summary = fetch(&server, WEIGHTS, &out, false).unwrap();
    assert_eq!(summary.destination, out.join("run-1_weights_final"));
    assert_eq!(
        std::fs::read(out.join("run-1_weights_final/adapter_model.safetensors")).unwrap(),
        bytes(400_000, 6)
    );
    for name in ["adapter_model.safetensors", "adapter_config.json"] {
        let official = crate::support::fixture(&format!("download/files/{name}"));
        let ours = out.join("run-1_weights_final").join(name);
        assert_eq!(
            std::fs::read(ours).unwrap(),
            std::fs::read(official).unwrap(),
            "{name}"
        );
    }
    let ours = sequence(&server);
    let theirs = golden();
    assert_eq!(ours.len(), theirs.len(), "ours: {ours:#?}");
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(same_call(a, b), "ours {a} != official {b}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_failed_export_download_still_deletes_the_export_and_finishes_the_session_errored() {
    let server = DownloadServer::start(&[("adapter_model.safetensors", bytes(100_000, 7))]);
    server.with(|s| s.valid_from = u64::MAX);
    let out = scratch("weights-fail");
    let err = fetch(&server, WEIGHTS, &out, false).unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert!(entries(&out).is_empty());
    let calls = server.api_calls();
    let delete = calls.iter().position(|c| {
        c == "DELETE /api/v1/training_runs/S:train:0/checkpoints/external_weights/download"
    });
    let finish = calls
        .iter()
        .position(|c| c == "POST /api/v1/sessions/S/finish");
    assert!(delete.is_some() && finish > delete, "{calls:?}");
    let body = server
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/finish"))
        .unwrap()
        .body;
    assert!(body.contains(r#""errored""#), "{body}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_unknown_weights_checkpoint_is_the_users_error_and_the_session_is_finished() {
    let server = DownloadServer::start(&[("adapter_model.safetensors", b"x".to_vec())]);
    server.with(|s| s.unknown_weights = true);
    let out = scratch("weights-unknown");
    let err = fetch(&server, WEIGHTS, &out, false).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(entries(&out).is_empty());
    let calls = server.api_calls();
    assert!(
        calls.iter().all(|c| !c.contains("external_weights")),
        "{calls:?}"
    );
    assert_eq!(
        calls.last().map(String::as_str),
        Some("POST /api/v1/sessions/S/finish")
    );
    std::fs::remove_dir_all(&out).unwrap();
}
