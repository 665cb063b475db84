"""One pooled HTTP client per process for the small JSON APIs (Prometheus, Alertmanager, PowerDNS).

A fresh ``httpx.get`` builds a client (and its SSL context) per call: ~15-20 ms, most of a
loopback query's cost. httpx clients are thread-safe; keyed by pid so a forked task process never
shares its parent's connections.
"""

from __future__ import annotations

import os
import threading

import httpx

_clients: dict[int, httpx.Client] = {}
_lock = threading.Lock()


def client() -> httpx.Client:
    pid = os.getpid()
    found = _clients.get(pid)
    if found is None:
        with _lock:
            found = _clients.setdefault(pid, httpx.Client(limits=httpx.Limits(max_keepalive_connections=20)))
    return found
