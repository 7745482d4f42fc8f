//! The storage behind the demo's signed URLs: signature and expiry checks, no credential
//! accepted, `Range` answered with 206, and the small built-in files of each checkpoint.

use std::io::Write;

use serde_json::json;

use super::super::auth::now_secs;
use super::super::catalog;
use super::super::handlers::Ctx;
use super::super::reply::{Answer, Call, Handled};
use super::{decode, external_source, TENSOR_BYTES};

/// A storage GET: the signature and its expiry, no credential, then the bytes (Range too).
pub fn storage(ctx: &Ctx, call: &Call) -> Handled {
    if call.method != "GET" {
        return Err(Answer::detail(405, "Method Not Allowed"));
    }
    if ["x-api-key", "authorization", "cookie"]
        .iter()
        .any(|h| call.header(h).is_some())
    {
        return Err(Answer::detail(400, "a signed URL takes no credential"));
    }
    let (path, query) = call.path.split_once('?').unwrap_or((&call.path, ""));
    let param = |key: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
    };
    let expires: u64 = param("expires").and_then(|e| e.parse().ok()).unwrap_or(0);
    if param("sig") != Some(ctx.downloads.sign(path, expires).as_str()) {
        return Err(Answer::detail(403, "signature does not match"));
    }
    if expires <= now_secs() {
        return Err(Answer::detail(403, "Request has expired"));
    }
    let body = stored(ctx, path).ok_or_else(|| Answer::detail(404, "no such object"))?;
    ranged(call, body)
}

/// The bytes behind a storage path, if its checkpoint (still) exists.
fn stored(ctx: &Ctx, path: &str) -> Option<Vec<u8>> {
    let rest = path.strip_prefix("/demo-storage/")?;
    let mut parts = rest.splitn(4, '/').map(decode);
    let (run, kind, name, file) = (
        parts.next()??,
        parts.next()??,
        parts.next()??,
        parts.next()??,
    );
    match kind.as_str() {
        "external_weights" => {
            let (src_run, src_name) = external_source(ctx, &run, &name)?;
            let all = files(&src_run, &src_name);
            all.into_iter().find(|(f, _)| *f == file).map(|(_, b)| b)
        }
        "sampler_weights" if file == "archive.tar.gz" => {
            catalog::checkpoint_rank(&run, "sampler_weights", &name)?;
            Some(tar_gz(&files(&run, &name)))
        }
        _ => None,
    }
}

/// The whole body (200) or, for `Range: bytes=N-`, the rest from N (206).
fn ranged(call: &Call, body: Vec<u8>) -> Handled {
    let from = call.header("range").and_then(|r| {
        r.strip_prefix("bytes=")?
            .strip_suffix('-')?
            .parse::<usize>()
            .ok()
    });
    let mut answer = Answer::json(200, &json!({}));
    answer.content_type = "application/octet-stream";
    let Some(from) = from else {
        answer.body = body;
        return Ok(answer);
    };
    if from >= body.len() {
        let size = format!("bytes */{}", body.len());
        return Err(Answer::detail(416, "Range Not Satisfiable").with_header("Content-Range", size));
    }
    let range = format!("bytes {from}-{}/{}", body.len() - 1, body.len());
    answer.status = 206;
    answer.body = body[from..].to_vec();
    Ok(answer.with_header("Content-Range", range))
}

/// The files of a catalog checkpoint: a config and a small real safetensors file.
pub fn files(run: &str, name: &str) -> Vec<(String, Vec<u8>)> {
    let (base, rank) = catalog::checkpoint_rank(run, "weights", name).unwrap_or_default();
    let (config, weights) = if rank > 0 {
        ("adapter_config.json", "adapter_model.safetensors")
    } else {
        ("config.json", "model.safetensors")
    };
    let config_json = json!({
        "base_model_name_or_path": base,
        "peft_type": if rank > 0 { "LORA" } else { "NONE" },
        "r": rank,
        "demo_checkpoint": format!("tinker://{run}/weights/{name}"),
    });
    let header = json!({"demo.weight": {"dtype": "U8", "shape": [TENSOR_BYTES],
        "data_offsets": [0, TENSOR_BYTES]}})
    .to_string();
    let mut tensor = (header.len() as u64).to_le_bytes().to_vec();
    tensor.extend_from_slice(header.as_bytes());
    let mut x = 0x9e37_79b9_u32 ^ name.parse::<u32>().unwrap_or(0) ^ ((rank as u32) << 20);
    tensor.extend((0..TENSOR_BYTES).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    let pretty = serde_json::to_vec_pretty(&config_json).unwrap_or_default();
    vec![(config.into(), pretty), (weights.into(), tensor)]
}

/// A gzipped ustar archive of `files` (regular files, mode 0644).
pub fn tar_gz(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(format!("{:011o}\0", catalog::EPOCH).as_bytes());
        h[156] = b'0';
        h[257..265].copy_from_slice(b"ustar\x0000");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&h);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(&tar);
    gz.finish().unwrap_or_default()
}
