#!/usr/bin/env python3
"""Goldens for tinkex's checkpoint download, made by the official CLI (tinker 0.38.0).

Serves, on a loopback port, the Tinker API's download endpoints and the storage behind the
signed URLs (the same answers tests/support/download.rs gives), runs
`tinker -f json checkpoint download tinker://run-1/weights/final` and the
external_weights form against it, and writes:

- fixtures/download/weights_sequence.json: the API requests of the weights export, in
  order (heartbeats left out: their number depends on timing), as {method, path, body};
- fixtures/download/files/<name>: the files the official CLI downloaded (byte-identical
  copies of what the server served, which the tests compare tinkex's downloads against).

    python3 tools/gen_download_goldens.py --tinker /tmp/tinkervenv/bin/tinker
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "download"


def pseudo_random(n, seed):
    """The test server's deterministic bytes (xorshift32, low byte), as in download.rs."""
    x = 0x9E3779B9 ^ seed
    out = bytearray(n)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


FILES = {
    "adapter_model.safetensors": pseudo_random(400_000, 6),
    "adapter_config.json": b"{}",
}
SEEN = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def json(self, value):
        self.answer(200, json.dumps(value).encode(), [("Content-Type", "application/json")])

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path
        if path.startswith("/store/"):
            SEEN.append({"method": self.command, "path": path.split("?")[0], "storage": True,
                         "headers": sorted(k.lower() for k in self.headers.keys())})
            name = path[len("/store/"):].split("?")[0]
            return self.answer(200, FILES[name], [("Content-Type", "application/octet-stream")])
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if not path.endswith("session_heartbeat"):
            SEEN.append({"method": self.command, "path": path, "body": body})
        port = self.server.server_address[1]
        if path.endswith("/external_weights_urls"):
            urls = {n: f"http://127.0.0.1:{port}/store/{n}?sig=1" for n in FILES}
            return self.json({"urls": urls, "expires": "2999-01-01T00:00:00Z"})
        if path == "/api/v1/create_session":
            return self.json({"session_id": "S", "type": "create_session"})
        if path == "/api/v1/load_weights":
            return self.json({"request_id": "load-1"})
        if path == "/api/v1/save_weights_external":
            return self.json({"request_id": "save-1"})
        if path == "/api/v1/retrieve_future":
            if body and body.get("request_id") == "load-1":
                return self.json({"type": "load_weights", "path": None})
            return self.json({"path": "tinker://S:train:0/external_weights/download",
                              "size_bytes": sum(len(v) for v in FILES.values()),
                              "type": "save_weights_external"})
        if path == "/api/v1/get_info":
            return self.json({"type": "get_info", "model_id": "S:train:0", "is_lora": True,
                              "lora_rank": 8, "model_name": "Qwen/Qwen3-8B",
                              "model_data": {"arch": "qwen3", "model_name": "Qwen/Qwen3-8B"}})
        if path.endswith("/telemetry"):
            return self.json({"status": "accepted"})
        return self.json({})

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def run(tinker, base, args, out):
    env = dict(os.environ, TINKER_API_KEY="tml-test-key-0123456789abcdef", TINKER_BASE_URL=base,
               TINKER_TELEMETRY="0")
    done = subprocess.run([tinker, "-f", "json", *args], env=env, cwd=out,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        seen = "\n".join(f"{s['method']} {s['path']} {s.get('body')}" for s in SEEN)
        sys.exit(f"tinker {' '.join(args)} failed ({done.returncode}):\n{done.stderr}\n{seen}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tinker", default="/tmp/tinkervenv/bin/tinker")
    opts = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        printed = run(opts.tinker, base,
                      ["checkpoint", "download", "tinker://run-1/weights/final", "-o", tmp], tmp)
        api = [s for s in SEEN if not s.get("storage")]
        storage = [s for s in SEEN if s.get("storage")]
        dest = Path(tmp) / "run-1_weights_final"
        files_dir = OUT / "files"
        shutil.rmtree(files_dir, ignore_errors=True)
        files_dir.mkdir(parents=True)
        for name in FILES:
            shutil.copyfile(dest / name, files_dir / name)
    server.shutdown()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "weights_sequence.json").write_text(json.dumps(api, indent=1) + "\n")
    (OUT / "storage_requests.json").write_text(json.dumps(storage, indent=1) + "\n")
    printed = json.loads(printed)
    printed["destination"] = "<out>/" + Path(printed.get("destination", "")).name
    (OUT / "weights_printed.json").write_text(json.dumps(printed, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
