"""A local stand-in for the Cloudflare v4 API's load balancer pools (GET, PATCH, PUT of one pool)
and load balancers (GET, PATCH of one: steering and region pools).

A real HTTP server on 127.0.0.1 (ephemeral port, background thread) so the official client is
exercised end to end. Writes are checked against the documented request shapes (pool fields,
origin fields, weight 0.00-1.00 in steps of 0.01) and refused the way Cloudflare does: an HTTP
error with the v4 envelope {"success": false, "errors": [...], "messages": [], "result": null}.
Every request is recorded so tests can assert on what the client really sent.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_POOL_PATH = re.compile(r"^/client/v4/accounts/([^/]+)/load_balancers/pools/([^/]+)$")
_LB_PATH = re.compile(r"^/client/v4/zones/([^/]+)/load_balancers/([^/]+)$")
# Cloudflare's load-balancing region codes and steering policies (API reference).
REGION_CODES = {"WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS"}
STEERING = {"off", "geo", "random", "dynamic_latency", "proximity", "least_outstanding_requests",
            "least_connections", ""}  # fmt: skip
LB_FIELDS = {"steering_policy": str, "region_pools": dict, "default_pools": list, "fallback_pool": str,
             "country_pools": dict, "pop_pools": dict, "enabled": bool, "proxied": bool, "ttl": int}  # fmt: skip
# Writable pool fields (PATCH: any subset; PUT: name and origins required).
POOL_FIELDS = {
    "check_regions": (list, type(None)),
    "description": str,
    "enabled": bool,
    "latitude": (int, Decimal),
    "load_shedding": dict,
    "longitude": (int, Decimal),
    "minimum_origins": int,
    "monitor": str,
    "name": str,
    "notification_email": str,
    "notification_filter": (dict, type(None)),
    "origin_steering": dict,
    "origins": list,
}
ORIGIN_FIELDS = {
    "address": str,
    "enabled": bool,
    "header": dict,
    "name": str,
    "port": int,
    "virtual_network_id": str,
    "weight": (int, Decimal),
}
# Error codes: 10000 is Cloudflare's authentication error; the others are the fake's own.
AUTH_ERROR, NOT_FOUND, BAD_REQUEST = 10000, 1002, 1001


class Reject(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON (floats as Decimal) or None
    status: int = 0


def _check_type(where: str, value: Any, kind: Any) -> None:
    # bool is an int subclass: never accept it for a number
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise Reject(400, BAD_REQUEST, f"{where}: invalid type {type(value).__name__}")


def check_origin(where: str, origin: Any) -> None:
    if not isinstance(origin, dict):
        raise Reject(400, BAD_REQUEST, f"{where}: must be an object")
    for key, value in origin.items():
        if key not in ORIGIN_FIELDS:
            raise Reject(400, BAD_REQUEST, f"{where}.{key}: unknown field")
        _check_type(f"{where}.{key}", value, ORIGIN_FIELDS[key])
    for key in ("address", "name"):
        if not origin.get(key):
            raise Reject(400, BAD_REQUEST, f"{where}.{key}: required")
    weight = origin.get("weight")
    if weight is not None and not (0 <= weight <= 1 and Decimal(weight) == Decimal(weight).quantize(Decimal("0.01"))):
        raise Reject(400, BAD_REQUEST, f"{where}.weight: must be 0.00-1.00 in steps of 0.01, got {weight}")
    header = origin.get("header", {})
    hosts = header.get("Host", [])
    if set(header) - {"Host"} or not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise Reject(400, BAD_REQUEST, f"{where}.header: only a 'Host' list of strings is supported")
    if len(hosts) > 1:
        raise Reject(400, BAD_REQUEST, f"{where}.header.Host: at most one value")


def check_pool_body(body: Any, method: str) -> None:
    if not isinstance(body, dict):
        raise Reject(400, BAD_REQUEST, "request body must be a JSON object")
    for key, value in body.items():
        if key not in POOL_FIELDS:
            raise Reject(400, BAD_REQUEST, f"{key}: unknown field")
        _check_type(key, value, POOL_FIELDS[key])
    if method == "PUT":
        for key in ("name", "origins"):
            if key not in body:
                raise Reject(400, BAD_REQUEST, f"{key}: required")
    for i, origin in enumerate(body.get("origins", [])):
        check_origin(f"origins[{i}]", origin)


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


class CloudflareFake:
    """One account's pools; ``with CloudflareFake(...) as fake`` serves them on ``fake.base_url``."""

    def __init__(
        self, token: str, account_id: str, pools: dict[str, dict], zone_id: str = "", balancers: dict | None = None
    ) -> None:
        self.token, self.account_id, self.zone_id = token, account_id, zone_id
        self.pools = copy.deepcopy(pools)
        self.balancers = copy.deepcopy(balancers or {})
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/client/v4"

    @property
    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def __enter__(self) -> CloudflareFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        raw = http.rfile.read(int(http.headers.get("Content-Length") or 0))
        record = Request(method, http.path, dict(http.headers), None)
        with self._lock:
            self.requests.append(record)
            try:
                if raw:
                    try:
                        record.body = json.loads(raw, parse_float=Decimal)  # exact decimals for weights
                    except ValueError:
                        raise Reject(400, BAD_REQUEST, "request body is not valid JSON") from None
                status, result = 200, self._route(record)
                envelope = {"success": True, "errors": [], "messages": [], "result": _to_json(result)}
            except Reject as rej:
                status = rej.status
                envelope = {
                    "success": False,
                    "errors": [{"code": rej.code, "message": rej.message}],
                    "messages": [],
                    "result": None,
                }
            record.status = status
        payload = json.dumps(envelope).encode()
        http.send_response(status)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        http.wfile.write(payload)

    def _route(self, req: Request) -> dict:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            raise Reject(401, AUTH_ERROR, "Authentication error")  # never echo the token
        if lb := _LB_PATH.match(req.path):
            return self._balancer(req, *lb.groups())
        match = _POOL_PATH.match(req.path)
        if not match:
            raise Reject(404, NOT_FOUND, f"no route for {req.path}")
        account_id, pool_id = match.groups()
        if account_id != self.account_id or pool_id not in self.pools:
            raise Reject(404, NOT_FOUND, "pool not found")
        pool = self.pools[pool_id]
        if req.method == "GET":
            return pool
        if not (req.headers.get("Content-Type") or "").startswith("application/json"):
            raise Reject(400, BAD_REQUEST, "Content-Type must be application/json")
        check_pool_body(req.body, req.method)
        body = copy.deepcopy(req.body)
        for origin in body.get("origins", []):  # Cloudflare's documented defaults
            origin.setdefault("enabled", True)
            origin.setdefault("weight", Decimal(1))
        if req.method == "PUT":  # replaces the writable fields; ids and timestamps stay
            pool = {k: v for k, v in pool.items() if k not in POOL_FIELDS}
        pool.update(body, modified_on=datetime.now(UTC).isoformat())
        self.pools[pool_id] = pool
        return pool

    def _balancer(self, req: Request, zone_id: str, lb_id: str) -> dict:
        if zone_id != self.zone_id or lb_id not in self.balancers:
            raise Reject(404, NOT_FOUND, "load balancer not found")
        if req.method == "GET":
            return self.balancers[lb_id]
        if req.method != "PATCH" or not isinstance(req.body, dict):
            raise Reject(400, BAD_REQUEST, "PATCH a JSON object")
        for key, value in req.body.items():
            if key not in LB_FIELDS:
                raise Reject(400, BAD_REQUEST, f"{key}: unknown field")
            _check_type(key, value, LB_FIELDS[key])
        if req.body.get("steering_policy", "") not in STEERING:
            raise Reject(400, BAD_REQUEST, f"steering_policy: {req.body['steering_policy']!r} is not a policy")
        for code, pools in req.body.get("region_pools", {}).items():
            if code not in REGION_CODES:
                raise Reject(400, BAD_REQUEST, f"region_pools: {code!r} is not a Cloudflare region code")
            if not isinstance(pools, list) or not pools or any(p not in self.pools for p in pools):
                raise Reject(400, BAD_REQUEST, f"region_pools.{code}: a non-empty list of this account's pool ids")
        self.balancers[lb_id] = {**self.balancers[lb_id], **copy.deepcopy(req.body)}
        return self.balancers[lb_id]
