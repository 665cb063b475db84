"""The client side of a region's serving endpoint: its ``/health`` (the one probe helper)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from multiregion.core.health import Probe


def health_url(endpoint: str) -> str:
    return f"{endpoint.rstrip('/')}/health"


def get_health(endpoint: str, timeout: float = 5.0) -> dict[str, Any]:
    """The endpoint's /health document (model, alias, version served); raises ``httpx.HTTPError``
    when it can't be reached or answers an error, ``ValueError`` when the body isn't JSON."""
    resp = httpx.get(health_url(endpoint), timeout=timeout)
    resp.raise_for_status()
    return resp.json()


def is_healthy(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(health_url(endpoint), timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


async def probe_endpoint(client: httpx.AsyncClient, region: str, endpoint: str) -> Probe:
    """One probe of /health from the triggerer: status and latency (timeout from the client)."""
    started = time.monotonic()
    try:
        resp = await client.get(health_url(endpoint))
    except httpx.HTTPError as exc:
        return Probe(region, time.time(), None, None, f"{type(exc).__name__}: {exc}"[:200] or "error")
    return Probe(region, time.time(), resp.status_code, time.monotonic() - started)
