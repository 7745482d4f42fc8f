//! Downloadable checkpoints: signed URLs of external weights, the temporary export of
//! training weights (load_weights → save_weights_external → URLs, ttl, DELETE) and the
//! archive of sampler weights (a 302 to a tar.gz), all served from small built-in files.
//!
//! Every `weights/` and `sampler_weights/` checkpoint of the catalog can be downloaded, and
//! `external_weights/NAME` of a catalog run for each listed `weights/NAME`. The signed URLs
//! point at `/demo-storage/` on this same server: they need no credential (one sent is
//! refused, as a storage host would never want it) and expire after [`URL_TTL_SECS`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use super::auth::{self, now_secs};
use super::catalog;
use super::faults::Endpoint;
use super::handlers::{check_headers, Ctx};
use super::reply::{body_object, check_fields, get_str, Answer, Call, Handled, Reply};

/// How long a signed URL works, in seconds (the client re-signs when 5 minutes are left).
pub const URL_TTL_SECS: u64 = 900;
/// Bytes of tensor data in each built-in weights file.
const TENSOR_BYTES: usize = 256 * 1024;
/// Request ids of the export futures start with this (sampling's futures are elsewhere).
const FUTURE_PREFIX: &str = "demo-export-";

/// What the download endpoints remember: signing key, loaded models, exports, futures.
pub struct Downloads {
    secret: u64,
    state: Mutex<Exports>,
}

#[derive(Default)]
struct Exports {
    counter: u64,
    /// Model id (`S:train:0`) → the catalog checkpoint loaded into it: (run, step name).
    models: HashMap<String, (String, String)>,
    /// Export run id (the model id) → the checkpoint it copies; removed by DELETE.
    exports: HashMap<String, (String, String)>,
    /// Future id → its result.
    futures: HashMap<String, Value>,
    /// Sampler archives asked for once already (the first ask answers 503: being built).
    built: Vec<String>,
}

impl Default for Downloads {
    fn default() -> Self {
        Downloads {
            secret: rand::random(),
            state: Mutex::default(),
        }
    }
}

impl Downloads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Exports> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The signature of `path` valid until `expires`.
    fn sign(&self, path: &str, expires: u64) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.secret, path, expires).hash(&mut h);
        format!("{:016x}", h.finish())
    }
}

/// Answers a download call; `None` when `call` is for another endpoint.
pub fn handle(ctx: &Ctx, call: &Call) -> Option<Reply> {
    let path = call.path.split('?').next().unwrap_or_default();
    if path.starts_with("/demo-storage/") {
        return Some(Reply::Answer(storage(ctx, call).unwrap_or_else(|e| e)));
    }
    let rest = path.strip_prefix("/api/v1/")?;
    let answer = match (call.method.as_str(), rest) {
        ("POST", "load_weights") => api(ctx, call, load_weights),
        ("POST", "get_info") => api(ctx, call, get_info),
        ("POST", "save_weights_external") => api(ctx, call, save_external),
        ("POST", "retrieve_future") => {
            let id = body_object(call)
                .ok()?
                .get("request_id")?
                .as_str()?
                .to_string();
            if !id.starts_with(FUTURE_PREFIX) {
                return None;
            }
            api(ctx, call, |ctx, _| future(ctx, &id))
        }
        _ => {
            let (run, kind, name, tail) = checkpoint_route(rest)?;
            let exported = ctx.downloads.lock().exports.contains_key(&run);
            match (call.method.as_str(), kind.as_str(), tail.as_str()) {
                ("GET", "external_weights", "external_weights_urls") => {
                    api(ctx, call, |ctx, call| urls(ctx, call, &run, &name))
                }
                ("GET", "sampler_weights", "archive") => {
                    api(ctx, call, |ctx, call| archive(ctx, call, &run, &name))
                }
                // Only the exports' ttl and DELETE are ours; the lifecycle endpoints own the rest.
                ("PUT", "external_weights", "ttl") if exported => {
                    api(ctx, call, |_, _| Ok(Answer::json(200, &json!({}))))
                }
                ("DELETE", "external_weights", "") if exported => api(ctx, call, |ctx, _| {
                    ctx.downloads.lock().exports.remove(&run);
                    Ok(Answer::json(200, &json!({})))
                }),
                _ => return None,
            }
        }
    };
    Some(Reply::Answer(answer))
}

/// Checks the credential and headers, then runs `f`.
fn api(ctx: &Ctx, call: &Call, f: impl FnOnce(&Ctx, &Call) -> Handled) -> Answer {
    let cfg = &ctx.config;
    let key = cfg.require_key.as_deref();
    auth::check(&ctx.jwts, cfg.jwt, key, Endpoint::Samplers, call)
        .and_then(|()| check_headers(call))
        .and_then(|()| f(ctx, call))
        .unwrap_or_else(|e| e)
}

/// `training_runs/{run}/checkpoints/{kind}/{name}[/{tail}]`, percent-decoded.
fn checkpoint_route(rest: &str) -> Option<(String, String, String, String)> {
    let (run, rest) = rest.strip_prefix("training_runs/")?.split_once('/')?;
    let rest = rest.strip_prefix("checkpoints/")?;
    let mut parts = rest.splitn(3, '/');
    let (kind, name) = (parts.next()?, parts.next()?);
    let tail = parts.next().unwrap_or_default();
    let decode = |s: &str| decode(s).filter(|d| !d.is_empty() && !d.contains('/'));
    Some((
        decode(run)?,
        kind.to_string(),
        decode(name)?,
        tail.to_string(),
    ))
}

/// Percent-decodes one path segment; `None` if it is not UTF-8 or badly escaped.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(bytes.len()), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn new_future(ctx: &Ctx, result: Value) -> Answer {
    let mut state = ctx.downloads.lock();
    state.counter += 1;
    let id = format!("{FUTURE_PREFIX}{}", state.counter);
    state.futures.insert(id.clone(), result);
    Answer::json(200, &json!({ "request_id": id }))
}

fn future(ctx: &Ctx, id: &str) -> Handled {
    let state = ctx.downloads.lock();
    let result = state.futures.get(id).cloned();
    result
        .map(|r| Answer::json(200, &r))
        .ok_or_else(|| Answer::detail(404, format!("Future not found: {id}")))
}

/// `load_weights`: a future that loads a catalog `weights/` checkpoint into `S:train:0`.
fn load_weights(ctx: &Ctx, call: &Call) -> Handled {
    let what = "load_weights";
    let obj = body_object(call)?;
    let required = ["session_id", "model_seq_id", "path", "type"];
    check_fields(&obj, what, &required, &["optimizer", "user_metadata"])?;
    let session = get_str(&obj, what, "session_id")?;
    if !ctx.state().sessions.contains_key(session) {
        return Err(Answer::detail(404, format!("Session not found: {session}")));
    }
    let path = get_str(&obj, what, "path")?;
    let found = path
        .strip_prefix("tinker://")
        .and_then(|p| p.split_once("/weights/"))
        .filter(|(run, name)| catalog::checkpoint_rank(run, "weights", name).is_some());
    let Some((run, name)) = found else {
        let error = format!("Checkpoint not found: {path}");
        return Ok(new_future(ctx, json!({"error": error, "category": "user"})));
    };
    let model = format!("{session}:train:0");
    let source = (run.to_string(), name.to_string());
    ctx.downloads.lock().models.insert(model, source);
    Ok(new_future(
        ctx,
        json!({"type": "load_weights", "path": null}),
    ))
}

/// The loaded checkpoint of the body's `model_id`, or 404.
fn loaded(ctx: &Ctx, obj: &Map<String, Value>, what: &str) -> Result<(String, String), Answer> {
    let model = get_str(obj, what, "model_id")?;
    let source = ctx.downloads.lock().models.get(model).cloned();
    source.ok_or_else(|| Answer::detail(404, format!("{what}: no model loaded as {model}")))
}

/// `get_info`: what the loaded model is.
fn get_info(ctx: &Ctx, call: &Call) -> Handled {
    let obj = body_object(call)?;
    check_fields(&obj, "get_info", &["model_id", "type"], &[])?;
    let (run, name) = loaded(ctx, &obj, "get_info")?;
    let (base, rank) = catalog::checkpoint_rank(&run, "weights", &name).unwrap_or_default();
    let data = json!({"base_model": base, "lora_rank": (rank > 0).then_some(rank)});
    Ok(Answer::json(
        200,
        &json!({"model_id": obj["model_id"], "model_data": data, "type": "get_info"}),
    ))
}

/// `save_weights_external`: a future whose result is the export's `tinker://` path.
fn save_external(ctx: &Ctx, call: &Call) -> Handled {
    let what = "save_weights_external";
    let obj = body_object(call)?;
    let required = ["model_id", "path", "type"];
    check_fields(&obj, what, &required, &["seq_id", "ttl_seconds"])?;
    let source = loaded(ctx, &obj, what)?;
    if get_str(&obj, what, "path")? != "download" {
        return Err(Answer::detail(422, "demo: exports are saved as `download`"));
    }
    let model = get_str(&obj, what, "model_id")?.to_string();
    let size: usize = files(&source.0, &source.1).iter().map(|f| f.1.len()).sum();
    ctx.downloads.lock().exports.insert(model.clone(), source);
    let result = json!({
        "path": format!("tinker://{model}/external_weights/download"),
        "size_bytes": size,
        "type": "save_weights_external",
    });
    Ok(new_future(ctx, result))
}

/// The catalog checkpoint whose files `external_weights/{name}` of `run` serves.
fn external_source(ctx: &Ctx, run: &str, name: &str) -> Option<(String, String)> {
    if let Some(source) = ctx.downloads.lock().exports.get(run) {
        return (name == "download").then(|| source.clone());
    }
    catalog::checkpoint_rank(run, "weights", name).map(|_| (run.to_string(), name.to_string()))
}

/// `external_weights_urls`: one signed URL per file and when they expire.
fn urls(ctx: &Ctx, call: &Call, run: &str, name: &str) -> Handled {
    let (src_run, src_name) = external_source(ctx, run, name)
        .ok_or_else(|| Answer::detail(404, format!("Checkpoint not found: {run}/{name}")))?;
    let expires = now_secs() + URL_TTL_SECS;
    let mut urls = Map::new();
    for (file, _) in files(&src_run, &src_name) {
        let path = format!("/demo-storage/{run}/external_weights/{name}/{file}");
        urls.insert(file, Value::String(signed(ctx, call, &path, expires)));
    }
    Ok(Answer::json(
        200,
        &json!({"urls": urls, "expires": rfc3339(expires)}),
    ))
}

/// The archive endpoint: 503 the first time (being built), then a 302 to a signed URL.
fn archive(ctx: &Ctx, call: &Call, run: &str, name: &str) -> Handled {
    if catalog::checkpoint_rank(run, "sampler_weights", name).is_none() {
        return Err(Answer::detail(
            404,
            format!("Checkpoint not found: {run}/{name}"),
        ));
    }
    let key = format!("{run}/{name}");
    let first = {
        let mut state = ctx.downloads.lock();
        let first = !state.built.contains(&key);
        if first {
            state.built.push(key);
        }
        first
    };
    if first {
        let busy = Answer::detail(503, "The archive is being built; try again shortly");
        return Err(busy.with_header("Retry-After", "1"));
    }
    let expires = now_secs() + URL_TTL_SECS;
    let path = format!("/demo-storage/{run}/sampler_weights/{name}/archive.tar.gz");
    let mut answer = Answer::json(302, &json!({}));
    answer.body.clear();
    let http_date = jiff::Timestamp::from_second(expires as i64)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    Ok(answer
        .with_header("Location", signed(ctx, call, &path, expires))
        .with_header("Expires", http_date))
}

/// An absolute signed URL for `path` on this server (the address the client used).
fn signed(ctx: &Ctx, call: &Call, path: &str, expires: u64) -> String {
    let host = call.header("host").unwrap_or("127.0.0.1");
    let sig = ctx.downloads.sign(path, expires);
    format!("http://{host}{path}?expires={expires}&sig={sig}")
}

fn rfc3339(secs: u64) -> String {
    jiff::Timestamp::from_second(secs as i64)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A storage GET: the signature and its expiry, no credential, then the bytes (Range too).
fn storage(ctx: &Ctx, call: &Call) -> Handled {
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
fn files(run: &str, name: &str) -> Vec<(String, Vec<u8>)> {
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
fn tar_gz(files: &[(String, Vec<u8>)]) -> Vec<u8> {
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
        h[257..265].copy_from_slice(b"ustar\000");
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

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::DemoConfig;

    fn get(path: String) -> Call {
        let headers = vec![("Host".to_string(), "127.0.0.1".to_string())];
        let (method, body) = ("GET".to_string(), Vec::new());
        Call {
            method,
            path,
            headers,
            body,
        }
    }

    #[test]
    fn a_signed_url_past_its_expiry_is_refused_and_a_fresh_one_served() {
        let ctx = Ctx::new(DemoConfig::default());
        let path = "/demo-storage/demo-run-1/external_weights/000600/adapter_config.json";
        let url = |expires: u64| {
            let sig = ctx.downloads.sign(path, expires);
            format!("{path}?expires={expires}&sig={sig}")
        };
        let stale = storage(&ctx, &get(url(now_secs() - 1))).unwrap_err();
        assert_eq!(stale.status, 403);
        assert!(String::from_utf8_lossy(&stale.body).contains("expired"));
        let fresh = storage(&ctx, &get(url(now_secs() + 60))).unwrap();
        assert_eq!(fresh.status, 200);
    }
}
