#!/usr/bin/env python3
"""Goldens for checkpoint lifecycle and billing, made by the official CLI (tinker 0.38.0).

Serves fixtures/lifecycle/answers.json (a mutable checkpoint catalog, reset before each
case) and fixtures/billing/answers.json on a loopback port the way the Tinker API answers
them, runs `tinker -f json …` for each case below, and writes, per case, what it printed
on stdout (parsed JSON, or null when it printed nothing), the CSV files it wrote (verbatim),
its exit code, every request it made (method, path, query, JSON body) and, for lifecycle
cases, the catalog afterwards:

    fixtures/lifecycle/golden/<case>.json    fixtures/billing/golden/<case>.json
    fixtures/*/golden/<case>.stdout (stdout verbatim, when it printed a document)
    fixtures/billing/golden/<case>.<file>.csv

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tinker==0.38.0
    python3 tools/gen_lifecycle_billing_goldens.py --tinker /tmp/venv/bin/tinker

The Rust tests serve the same answers and compare tinkex's requests, documents and CSV
files with these (they never run Python).
"""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
LIFECYCLE = ROOT / "fixtures" / "lifecycle"
BILLING = ROOT / "fixtures" / "billing"
KEY = "tml-golden-key-0123456789"
# A key the server answers 403 on the billing endpoints (no billing role).
NO_ROLE_KEY = "tml-golden-no-billing-role"

P100 = "tinker://run-a/weights/000100"
P200 = "tinker://run-a/weights/000200"
S200 = "tinker://run-a/sampler_weights/000200"

HANDSHAKE = ("/api/v1/client/config", "/api/v1/client/dynamic_config", "/api/v1/telemetry")

# name -> (argv after `-f json`, CSV files the case writes, key)
LIFECYCLE_CASES = {
    "publish": (["checkpoint", "publish", P100], [], KEY),
    "unpublish": (["checkpoint", "unpublish", P200], [], KEY),
    "set_ttl": (["checkpoint", "set-ttl", S200, "--ttl", "604800"], [], KEY),
    "set_ttl_remove": (["checkpoint", "set-ttl", S200, "--remove"], [], KEY),
    "set_ttl_rejected": (["checkpoint", "set-ttl", S200, "--ttl", "60"], [], KEY),
    "delete_paths": (["checkpoint", "delete", "-y", P100, S200], [], KEY),
    "delete_unknown": (
        ["checkpoint", "delete", "-y", P100, "tinker://run-a/weights/999999"],
        [],
        KEY,
    ),
    "delete_run_all": (["checkpoint", "delete", "-y", "--run-id", "run-b"], [], KEY),
    "delete_run_type_before": (
        ["checkpoint", "delete", "-y", "--run-id", "run-a", "--type", "weights",
         "--before", "2026-01-09"],
        [],
        KEY,
    ),
    "delete_run_after": (
        ["checkpoint", "delete", "-y", "--run-id", "run-a", "--type", "sampler_weights",
         "--after", "2026-01-05T10:00:00Z"],
        [],
        KEY,
    ),
    "delete_run_window": (
        ["checkpoint", "delete", "-y", "--run-id", "run-a", "--after", "2026-01-03",
         "--before", "2026-01-12T08:30:00Z"],
        [],
        KEY,
    ),
}

BILLING_CASES = {
    "usage": (["billing", "usage", "2026-07-13T00:00:00Z", "2026-07-14T00:00:00Z"], [], KEY),
    "usage_csv": (
        ["billing", "usage", "2026-07-13T00:00:00Z", "2026-07-14T00:00:00Z",
         "--csv", "{usage}", "--sessions-csv", "{sessions}"],
        ["usage", "sessions"],
        KEY,
    ),
    "usage_empty": (["billing", "usage", "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z"], [], KEY),
    "usage_empty_csv": (
        ["billing", "usage", "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z",
         "--csv", "{usage}", "--sessions-csv", "{sessions}"],
        ["usage", "sessions"],
        KEY,
    ),
    "usage_forbidden": (
        ["billing", "usage", "2026-07-13T00:00:00Z", "2026-07-14T00:00:00Z"], [], NO_ROLE_KEY
    ),
    "storage": (["billing", "checkpoint-storage"], [], KEY),
    "storage_project": (["billing", "checkpoint-storage", "--project-id", "proj 1/x"], [], KEY),
    "storage_csv": (["billing", "checkpoint-storage", "--csv", "{storage}"], ["storage"], KEY),
}


class State:
    """The server's data; the catalog is reset before each case."""

    def __init__(self, lifecycle, billing):
        self.initial = lifecycle["checkpoints"]
        self.billing = billing
        self.log = []
        self.reset()

    def reset(self):
        self.checkpoints = copy.deepcopy(self.initial)
        self.log.clear()


def find(state, run, kind, name):
    path = f"tinker://{run}/{kind}/{name}"
    for c in state.checkpoints:
        if c["tinker_path"] == path:
            return c
    return None


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, value=None):
            body = b"" if value is None else json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def record(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            url = urlsplit(self.path)
            query = {k: v for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            body = json.loads(raw) if raw else None
            # The handshake and the SDK's telemetry (random ids, timestamps) are not
            # part of what a command asks for.
            if url.path not in HANDSHAKE:
                state.log.append(
                    {"method": method, "path": url.path, "query": query, "body": body}
                )
            return url, query, body

        def handle_any(self, method):
            url, query, body = self.record(method)
            path = url.path.removeprefix("/api/v1/")
            if url.path in HANDSHAKE:
                return self.reply(200, {"pjwt_auth_enabled": False})
            if path.startswith("billing/"):
                return self.billing(path, query)
            parts = [unquote(p) for p in path.split("/")]
            if parts[:1] != ["training_runs"] or len(parts) < 3:
                return self.reply(404, {"detail": "Not Found"})
            run = parts[1]
            if parts[2:] == ["checkpoints"] and method == "GET":
                mine = [c for c in state.checkpoints
                        if c["tinker_path"].startswith(f"tinker://{run}/")]
                return self.reply(200, {"checkpoints": mine, "cursor": None})
            if len(parts) < 5 or parts[2] != "checkpoints":
                return self.reply(404, {"detail": "Not Found"})
            kind, name, action = parts[3], parts[4], parts[5:]
            c = find(state, run, kind, name)
            if c is None:
                return self.reply(404, {"detail": f"Checkpoint not found: {run}/{kind}/{name}"})
            if action == [] and method == "DELETE":
                state.checkpoints.remove(c)
                return self.reply(204)
            if action == ["publish"] and method in ("POST", "DELETE"):
                want = method == "POST"
                if c["public"] == want:
                    what = "public" if want else "private"
                    return self.reply(409, {"detail": f"Checkpoint is already {what}"})
                c["public"] = want
                return self.reply(204)
            if action == ["ttl"] and method == "PUT":
                ttl = (body or {}).get("ttl_seconds")
                if ttl is not None and not 3600 <= ttl <= 3650 * 86400:
                    return self.reply(400, {"detail": "TTL must be between 1 hour and 10 years"})
                c["expires_at"] = None if ttl is None else f"+{ttl}s"
                return self.reply(204)
            return self.reply(405, {"detail": "Method Not Allowed"})

        def billing(self, path, query):
            if self.headers.get("X-API-Key") == NO_ROLE_KEY:
                return self.reply(403, {"detail": "Billing access requires the admin role"})
            if path == "billing/usage/events":
                start = query.get("starting_on", [""])[0]
                which = "usage" if start.startswith("2026-07-13") else "usage_empty"
                return self.reply(200, state.billing[which])
            if path == "billing/usage/checkpoints/current":
                return self.reply(200, state.billing["storage"])
            return self.reply(404, {"detail": "Not Found"})

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

        def do_PUT(self):
            self.handle_any("PUT")

        def do_DELETE(self):
            self.handle_any("DELETE")

    return Handler


def run_case(tinker, env, argv, files, key, state, tmp):
    state.reset()
    paths = {f: str(Path(tmp) / f"{f}.csv") for f in files}
    argv = [a.format(**paths) for a in argv]
    out = subprocess.run(
        [tinker, "-f", "json", *argv],
        env={**env, "TINKER_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
    )
    stdout = out.stdout.strip()
    try:
        doc = json.loads(stdout) if stdout else None
    except json.JSONDecodeError:
        doc = {"unparsed_stdout": stdout}
    csvs = {}
    for f, p in paths.items():
        csvs[f] = Path(p).read_bytes()
        os.remove(p)
    return out.returncode, doc, out.stdout, csvs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tinker", default="tinker", help="the official CLI to run")
    args = parser.parse_args()
    state = State(
        json.loads((LIFECYCLE / "answers.json").read_text()),
        json.loads((BILLING / "answers.json").read_text()),
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "TINKER_BASE_URL": f"http://127.0.0.1:{server.server_port}",
            "NO_PROXY": "127.0.0.1",
        }
        for root, cases in ((LIFECYCLE, LIFECYCLE_CASES), (BILLING, BILLING_CASES)):
            golden = root / "golden"
            golden.mkdir(parents=True, exist_ok=True)
            for name, (argv, files, key) in cases.items():
                code, doc, text, csvs = run_case(args.tinker, env, argv, files, key, state, home)
                record = {"argv": argv, "exit_code": code, "stdout": doc,
                          "requests": list(state.log)}
                if root == LIFECYCLE:
                    record["catalog_after"] = [
                        {k: c[k] for k in ("tinker_path", "public", "expires_at")}
                        for c in state.checkpoints
                    ]
                (golden / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
                if doc is not None:
                    # Byte for byte, as printed (Python's json.dump: indent 2, ASCII only).
                    (golden / f"{name}.stdout").write_text(text)
                for f, data in csvs.items():
                    (golden / f"{name}.{f}.csv").write_bytes(data)
                print(f"{name}: exit {code}, {len(state.log)} requests", file=sys.stderr)
    server.shutdown()


if __name__ == "__main__":
    main()
