//! `tinkex checkpoint download` on the built binary against a raw 127.0.0.1 server: what
//! stdout prints, refusals before any request, a body longer than its Content-Length, and
//! SIGTERM mid-download (nothing left; for weights/, the export deleted and the session
//! finished `interrupted`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::download_external::entries;
use crate::support::download::{bytes, DownloadServer, Fault};
use crate::support::run::{clean_command, tinkex, Outcome};
use crate::support::KEY;

const EXTERNAL: &str = "tinker://run-1/external_weights/final";
const WEIGHTS: &str = "tinker://run-1/weights/final";

fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("adapter_config.json", br#"{"r": 8}"#.to_vec()),
        ("adapter_model.safetensors", bytes(1_000_000, 3)),
    ]
}

fn download(server: &DownloadServer, out: &Path, extra: &[&str]) -> Outcome {
    let out = out.display().to_string();
    let url = server.url();
    let mut args = vec!["checkpoint", "download", "-o", &out, "--base-url", &url];
    args.extend_from_slice(extra);
    tinkex(&args).env("TINKER_API_KEY", KEY).run()
}

#[test]
fn stdout_is_the_destination_and_the_files_are_identical() {
    let server = DownloadServer::start(&files());
    let out = tempfile::tempdir().unwrap();
    let got = download(&server, out.path(), &[EXTERNAL]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let dest = out.path().join("run-1_external_weights_final");
    assert_eq!(got.stdout, format!("{}\n", dest.display()));
    for (name, data) in files() {
        assert_eq!(std::fs::read(dest.join(name)).unwrap(), data, "{name}");
    }
    assert!(got
        .stderr
        .contains("downloaded adapter_model.safetensors (976.6 KB)"));
    assert_eq!(entries(out.path()).len(), 3, "{:?}", entries(out.path()));
}

#[test]
fn json_prints_the_official_document_and_force_replaces() {
    let server = DownloadServer::start(&files());
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("run-1_external_weights_final");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("old"), b"old").unwrap();
    let got = download(&server, out.path(), &[EXTERNAL, "--json", "--force", "-q"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(got.stderr, "");
    let doc: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    let want = serde_json::json!({
        "checkpoint_path": EXTERNAL,
        "destination": dest.display().to_string(),
        "file_size_bytes": 1_000_008,
    });
    assert_eq!(doc, want);
    assert!(got.stdout.starts_with("{\n \"checkpoint_path\""));
    assert!(!dest.join("old").exists());
}

#[test]
fn an_existing_destination_without_force_is_exit_2_before_any_request() {
    let server = DownloadServer::start(&files());
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir(out.path().join("run-1_external_weights_final")).unwrap();
    let got = download(&server, out.path(), &[EXTERNAL]);
    assert_eq!(got.code, 2, "{}", got.stderr);
    assert!(got.stderr.contains("already exists"), "{}", got.stderr);
    assert!(server.seen().is_empty(), "{:?}", server.api_calls());
}

#[test]
fn bad_paths_and_output_dirs_are_exit_2_before_any_request() {
    let server = DownloadServer::start(&files());
    let out = tempfile::tempdir().unwrap();
    let missing = out.path().join("missing");
    let got = download(&server, &missing, &[EXTERNAL]);
    assert_eq!(got.code, 2, "{}", got.stderr);
    assert!(got.stderr.contains("-o "), "{}", got.stderr);
    let got = download(&server, out.path(), &["tinker://run-1/nonsense/x"]);
    assert_eq!(got.code, 2, "{}", got.stderr);
    assert!(server.seen().is_empty());
}

#[test]
fn a_body_longer_than_its_content_length_is_exit_4_and_leaves_nothing() {
    let server = DownloadServer::start(&files());
    server.with(|s| {
        let fault = Fault {
            claimed_length: Some(999_000),
            ..Fault::default()
        };
        s.faults.insert("adapter_model.safetensors".into(), fault);
    });
    let out = tempfile::tempdir().unwrap();
    let got = download(&server, out.path(), &[EXTERNAL]);
    assert_eq!(got.code, 4, "{}", got.stderr);
    assert!(
        got.stderr.contains("longer than its Content-Length"),
        "{}",
        got.stderr
    );
    assert_eq!(entries(out.path()), Vec::<String>::new());
}

#[test]
fn the_help_names_the_default_timeout_and_the_billed_session() {
    let got = tinkex(&["checkpoint", "download", "--help"]).run();
    assert_eq!(got.code, 0);
    assert!(got.stdout.contains("default: 14400"), "{}", got.stdout);
    assert!(got.stdout.contains("billed"), "{}", got.stdout);
}

/// Starts a download of `path` with a slow body, waits for its staging directory, sends
/// SIGTERM, and returns the exit code (bounded waits throughout).
fn terminated_mid_download(server: &DownloadServer, path: &str, out: &Path) -> Option<i32> {
    server.with(|s| {
        let fault = Fault {
            trickle: true,
            ..Fault::default()
        };
        s.faults.insert("adapter_model.safetensors".into(), fault);
    });
    let home = tempfile::tempdir().unwrap();
    let out_arg = out.display().to_string();
    let url = server.url();
    let args = [
        "checkpoint",
        "download",
        path,
        "-o",
        &out_arg,
        "--base-url",
        &url,
    ];
    let mut child = clean_command(&args, home.path())
        .env("TINKER_API_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.served("adapter_model.safetensors") == 0 || entries(out).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no download began"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let signalled = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // Bounded: the clean-up grace is 5 s.
            assert!(signalled.elapsed() < Duration::from_secs(7));
            return status.code();
        }
        if signalled.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_mid_download_exits_143_and_leaves_nothing() {
    let server = DownloadServer::start(&files());
    let out = tempfile::tempdir().unwrap();
    assert_eq!(
        terminated_mid_download(&server, EXTERNAL, out.path()),
        Some(143)
    );
    assert_eq!(entries(out.path()), Vec::<String>::new());
}

#[test]
fn sigterm_mid_export_deletes_the_export_and_finishes_the_session_interrupted() {
    let server = DownloadServer::start(&files());
    let out = tempfile::tempdir().unwrap();
    assert_eq!(
        terminated_mid_download(&server, WEIGHTS, out.path()),
        Some(143)
    );
    assert_eq!(entries(out.path()), Vec::<String>::new());
    let calls = server.api_calls();
    let delete = "DELETE /api/v1/training_runs/S:train:0/checkpoints/external_weights/download";
    assert!(calls.iter().any(|c| c == delete), "{calls:?}");
    let finish = server
        .seen()
        .into_iter()
        .find(|s| s.path == "/api/v1/sessions/S/finish")
        .expect("the session was finished");
    assert!(finish.body.contains("interrupted"), "{}", finish.body);
}
