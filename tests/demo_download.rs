//! `tinkex checkpoint download` (the built binary) against the in-process demo server, for
//! each kind of checkpoint: external weights by signed URL, training weights by temporary
//! export, sampler weights by archive; and the demo storage's own signature checks.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use serde_json::Value;

use crate::demo::{DemoConfig, DemoServer, RecordedRequest};
use crate::support::{tinkex, Outcome};

fn download(server: &DemoServer, path: &str, out: &Path) -> Outcome {
    let (url, out) = (server.url(), out.display().to_string());
    let args = [
        "checkpoint",
        "download",
        path,
        "-o",
        &out,
        "--base-url",
        &url,
    ];
    tinkex(&args).env("TINKER_API_KEY", "tml-demo").run()
}

/// Every file under `dir`, by name, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

/// Checks the LoRA files of demo-run-1 (rank 32): the config names the checkpoint and the
/// safetensors file is well formed (header length, header, 256 KiB of data).
fn check_lora_files(got: &[(String, Vec<u8>)]) {
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["adapter_config.json", "adapter_model.safetensors"]);
    let config: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(config["r"], 32);
    assert_eq!(
        config["demo_checkpoint"],
        "tinker://demo-run-1/weights/000600"
    );
    let tensor = &got[1].1;
    let header_len = u64::from_le_bytes(tensor[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&tensor[8..8 + header_len]).unwrap();
    assert_eq!(header["demo.weight"]["data_offsets"][1], 256 * 1024);
    assert_eq!(tensor.len(), 8 + header_len + 256 * 1024);
}

fn storage_gets(server: &DemoServer) -> Vec<RecordedRequest> {
    let log = server.request_log().into_iter();
    log.filter(|r| r.path.starts_with("/demo-storage/"))
        .collect()
}

/// `METHOD path` of the API calls, heartbeats and the handshake left out.
fn api_calls(server: &DemoServer) -> Vec<String> {
    let log = server.request_log().into_iter();
    let api = log.filter(|r| r.path.starts_with("/api/v1/") && !r.path.contains("heartbeat"));
    api.map(|r| format!("{} {}", r.method, r.path))
        .filter(|c| !c.ends_with("client/config"))
        .collect()
}

#[test]
fn external_weights_come_from_signed_urls_without_the_credential() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = download(
        &server,
        "tinker://demo-run-1/external_weights/000600",
        out.path(),
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    let dest = out.path().join("demo-run-1_external_weights_000600");
    assert_eq!(got.stdout, format!("{}\n", dest.display()));
    check_lora_files(&files(&dest));
    let gets = storage_gets(&server);
    assert_eq!(gets.len(), 2, "{gets:?}");
    for get in gets {
        assert_eq!(get.status, Some(200), "{}", get.path);
        for header in ["x-api-key", "authorization", "cookie"] {
            assert!(
                get.header(header).is_none(),
                "{header} sent to {}",
                get.path
            );
        }
    }
}

#[test]
fn training_weights_take_the_official_export_sequence_and_clean_up() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = download(&server, "tinker://demo-run-1/weights/000600", out.path());
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(
        got.stderr.contains("(billed) training session"),
        "{}",
        got.stderr
    );
    let dest = out.path().join("demo-run-1_weights_000600");
    check_lora_files(&files(&dest));
    let export =
        "/api/v1/training_runs/demo-session-1:train:0/checkpoints/external_weights/download";
    let want = [
        "POST /api/v1/create_session".to_string(),
        "POST /api/v1/load_weights".into(),
        "POST /api/v1/retrieve_future".into(),
        "POST /api/v1/get_info".into(),
        "POST /api/v1/save_weights_external".into(),
        "POST /api/v1/retrieve_future".into(),
        format!("GET {export}/external_weights_urls"),
        format!("PUT {export}/ttl"),
        format!("DELETE {export}"),
        "POST /api/v1/sessions/demo-session-1/finish".into(),
    ];
    assert_eq!(api_calls(&server), want);
    let log = server.request_log();
    assert!(log.iter().all(|r| r.status == Some(200)), "{log:?}");
    let finish = log.iter().find(|r| r.path.ends_with("/finish")).unwrap();
    assert_eq!(finish.json().unwrap()["reason"]["type"], "success");
}

#[test]
fn an_unknown_training_checkpoint_is_a_user_error_and_the_session_ends() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = download(&server, "tinker://demo-run-1/weights/000999", out.path());
    assert_eq!(got.code, 2, "{}", got.stderr);
    assert!(
        got.stderr.contains("Checkpoint not found"),
        "{}",
        got.stderr
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    let calls = api_calls(&server);
    assert_eq!(
        calls.last().unwrap(),
        "POST /api/v1/sessions/demo-session-1/finish"
    );
}

#[test]
fn sampler_weights_wait_for_the_archive_and_unpack_the_same_files() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = download(
        &server,
        "tinker://demo-run-1/sampler_weights/000600",
        out.path(),
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stderr.contains("being built"), "{}", got.stderr);
    let sampler = files(&out.path().join("demo-run-1_sampler_weights_000600"));
    check_lora_files(&sampler);
    let statuses: Vec<Option<u16>> = server.request_log().iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&Some(503)) && statuses.contains(&Some(302)),
        "{statuses:?}"
    );
    // The archive holds the very files the external copy of the same step serves.
    let got = download(
        &server,
        "tinker://demo-run-1/external_weights/000600",
        out.path(),
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(
        files(&out.path().join("demo-run-1_external_weights_000600")),
        sampler
    );
}

/// A raw HTTP/1.0 GET (never chunked) of `path` with `extra` header lines; the status and the body.
fn raw_get(server: &DemoServer, path: &str, extra: &str) -> (u16, Vec<u8>) {
    let mut conn = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let head =
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&answer[9..12]).parse().unwrap();
    (status, answer[split + 4..].to_vec())
}

#[test]
fn the_demo_storage_checks_signatures_credentials_and_serves_ranges() {
    let server = DemoServer::start(DemoConfig::default()).unwrap();
    let key = "X-API-Key: tml-demo\r\n";
    let listing = "/api/v1/training_runs/demo-run-1/checkpoints/external_weights/000600/external_weights_urls";
    let (status, body) = raw_get(&server, listing, key);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert!(doc["expires"].as_str().unwrap().ends_with('Z'));
    let url = doc["urls"]["adapter_model.safetensors"].as_str().unwrap();
    let path = &url[url.find("/demo-storage/").unwrap()..];
    let (status, whole) = raw_get(&server, path, "");
    assert!(
        status == 200 && whole.len() > 256 * 1024,
        "{status} {}",
        whole.len()
    );
    let (status, rest) = raw_get(&server, path, "Range: bytes=1000-\r\n");
    assert_eq!(status, 206);
    assert!(
        rest == whole[1000..],
        "the range is the file from byte 1000"
    );
    assert_eq!(
        raw_get(&server, path, key).0,
        400,
        "a credential is refused"
    );
    let forged = format!("{}0", &path[..path.len() - 1]);
    let forged = if forged == path {
        format!("{}1", &path[..path.len() - 1])
    } else {
        forged
    };
    assert_eq!(raw_get(&server, &forged, "").0, 403);
}
