"""The world's Alertmanager webhook receiver: records every delivered notification, so tests and
the demo assert on what reached "ops", not only on Alertmanager's own API.

``POST /`` takes Alertmanager's webhook payload and appends it, with the time received, to a JSON
Lines file (one line per notification, written with a single ``write``: a crash never leaves half a
notification); ``GET /alerts`` lists the alerts received (one row per alert per notification, newest
last; ``?alertname=`` filters); ``GET /-/ready`` answers 200. Stdlib only; binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

MAX_BODY = 1 << 20


def received_alerts(path: Path, alertname: str | None = None) -> list[dict]:
    """Every alert of every notification in ``path``: status, labels, annotations, times."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            note = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a full disk: skip it, keep the rest
        for alert in note.get("payload", {}).get("alerts", []):
            if alertname and alert.get("labels", {}).get("alertname") != alertname:
                continue
            rows.append({"received_at": note["received_at"], "receiver": note["payload"].get("receiver"), **alert})
    return rows


def make_handler(path: Path, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                return self._send(400, {"error": f"body of {length} bytes (1..{MAX_BODY})"})
            try:
                payload = json.loads(self.rfile.read(length))
            except json.JSONDecodeError as exc:
                return self._send(400, {"error": f"not JSON: {exc}"})
            if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
                return self._send(400, {"error": "not an Alertmanager webhook payload (no 'alerts' list)"})
            line = json.dumps({"received_at": time.time(), "payload": payload}) + "\n"
            with lock, path.open("a") as f:
                f.write(line)
            self._send(200, {"recorded": len(payload["alerts"])})

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/-/ready":
                return self._send(200, {"ready": True})
            if url.path == "/alerts":
                name = parse_qs(url.query).get("alertname", [None])[0]
                return self._send(200, received_alerts(path, name))
            self._send(404, {"error": f"no route {url.path}"})

        def log_message(self, fmt: str, *args) -> None:  # quiet: one line per delivery is enough
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, required=True)
    args = parser.parse_args()
    args.file.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.file, threading.Lock()))
    server.serve_forever()


if __name__ == "__main__":
    main()


def fetch_received(sink_url: str, alertname: str | None = None) -> list[dict]:
    """What the running sink has received (the tests' and the demo's view of "ops")."""
    import httpx

    params = {"alertname": alertname} if alertname else None
    resp = httpx.get(f"{sink_url.rstrip('/')}/alerts", params=params, timeout=5)
    resp.raise_for_status()
    return resp.json()
