#!/usr/bin/env python3
"""Goldens for tinkex's read commands, made by the official CLI (tinker 0.38.0).

Serves fixtures/catalog/answers.json on a loopback port the way the Tinker API
answers the read endpoints, runs `tinker -f json …` against it for each case
below, and writes what it prints to fixtures/catalog/golden/<case>.json, and
the requests each case made to fixtures/catalog/golden/requests.json.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tinker==0.38.0
    python3 tools/gen_catalog_goldens.py --tinker /tmp/venv/bin/tinker

The tests compare tinkex's --json output with these files (timestamps compared
as instants: the SDK prints them as Python datetimes, tinkex as the server sent them).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "fixtures" / "catalog" / "answers.json"
GOLDEN = ROOT / "fixtures" / "catalog" / "golden"

CASES = {
    "model_list": ["model", "list"],
    "model_list_filter": ["model", "list", "qwen"],
    "run_list": ["run", "list"],
    "run_list_limit2": ["run", "list", "--limit", "2"],
    "run_info": ["run", "info", "run-lora"],
    "run_info_full": ["run", "info", "run-full"],
    "run_info_sparse": ["run", "info", "run-sparse"],
    "checkpoint_list": ["checkpoint", "list"],
    "checkpoint_list_run": ["checkpoint", "list", "--run-id", "run-lora"],
    "checkpoint_info": ["checkpoint", "info", "tinker://run-lora/sampler_weights/final"],
    "checkpoint_info_sparse": ["checkpoint", "info", "tinker://run-sparse/weights/000001"],
}


def make_handler(data, log):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_json(self, status, value):
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            log.append(["POST", self.path])
            self.send_json(200, {"status": "accepted"})

        def do_GET(self):
            log.append(["GET", self.path])
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            path = url.path.removeprefix("/api/v1/")
            if path == "get_server_capabilities":
                return self.send_json(200, {"supported_models": data["supported_models"]})
            if path in ("training_runs", "checkpoints"):
                items = data[path]
                limit, offset = int(query.get("limit", 20)), int(query.get("offset", 0))
                page = items[offset : offset + limit]
                cursor = {"offset": offset, "limit": limit, "total_count": len(items)}
                return self.send_json(200, {path: page, "cursor": cursor})
            if path.startswith("training_runs/"):
                rest = path.removeprefix("training_runs/")
                run_id, _, tail = rest.partition("/")
                runs = [r for r in data["training_runs"] if r["training_run_id"] == run_id]
                if not runs:
                    return self.send_json(404, {"detail": f"Training run not found: {run_id}"})
                if tail == "checkpoints":
                    prefix = f"tinker://{run_id}/"
                    mine = [c for c in data["checkpoints"] if c["tinker_path"].startswith(prefix)]
                    return self.send_json(200, {"checkpoints": mine, "cursor": None})
                return self.send_json(200, runs[0])
            self.send_json(404, {"detail": "Not Found"})

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tinker", default="tinker", help="the official CLI to run")
    args = parser.parse_args()
    data = json.loads(ANSWERS.read_text())
    log = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(data, log))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    requests = {}
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "TINKER_API_KEY": "tml-golden-key-0123456789",
            "TINKER_BASE_URL": f"http://127.0.0.1:{server.server_port}",
            "NO_PROXY": "127.0.0.1",
        }
        for name, argv in CASES.items():
            log.clear()
            out = subprocess.run(
                [args.tinker, "-f", "json", *argv], env=env, capture_output=True, text=True
            )
            if out.returncode != 0:
                sys.exit(f"{name}: tinker exited {out.returncode}: {out.stderr}")
            doc = json.loads(out.stdout)
            (GOLDEN / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
            requests[name] = {"argv": argv, "requests": list(log)}
            print(f"{name}: {len(log)} requests")
    (GOLDEN / "requests.json").write_text(json.dumps(requests, indent=2) + "\n")
    server.shutdown()


if __name__ == "__main__":
    main()
