"""Queries of the metrics Prometheus scrapes from the serving endpoints (HTTP API v1)."""

from __future__ import annotations

import httpx

from multiregion import http_pool

# Server-side failures over all answered requests; bad client input is not the region's fault.
ERROR_RATE = (
    'sum(rate(multiregion_serving_requests_total{{region="{region}",status="no_model"}}[{window}]))'
    ' / sum(rate(multiregion_serving_requests_total{{region="{region}"}}[{window}]))'
)


REQUEST_RATES = "sum by (region) (rate(multiregion_serving_requests_total[{window}]))"


class PrometheusError(RuntimeError):
    pass


def parse_scalar(body: dict) -> float | None:
    """The single value of an instant-vector answer; None when there is no sample (e.g. no traffic)."""
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus query failed: {body.get('error', body)}")
    result = body["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if value != value else value  # NaN: 0/0, no requests in the window


async def error_rate(client: httpx.AsyncClient, prometheus_url: str, region: str, window: str = "1m") -> float | None:
    query = ERROR_RATE.format(region=region, window=window)
    try:
        resp = await client.get(f"{prometheus_url.rstrip('/')}/api/v1/query", params={"query": query})
    except httpx.HTTPError as exc:
        raise PrometheusError(f"cannot reach Prometheus at {prometheus_url}: {exc}") from exc
    return parse_scalar(resp.json())


def _get(prometheus_url: str, path: str, params: dict, timeout: float = 30) -> dict:
    """One HTTP API v1 answer's ``data``; PrometheusError if unreachable or the query failed."""
    try:
        url = f"{prometheus_url.rstrip('/')}/api/v1/{path}"
        body = http_pool.client().get(url, params=params, timeout=timeout).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusError(f"cannot query Prometheus at {prometheus_url}: {exc}") from exc
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus query failed: {body.get('error', body)}")
    return body["data"]


def request_rates(prometheus_url: str, regions: list[str], window: str = "5m") -> dict[str, float]:
    """Requests/s each region's serving answers now (0 for a region with no series: no traffic)."""
    data = _get(prometheus_url, "query", {"query": REQUEST_RATES.format(window=window)}, timeout=10)
    found = {r["metric"].get("region"): float(r["value"][1]) for r in data["result"]}
    return {region: found.get(region, 0.0) for region in regions}


def hourly_request_rates(prometheus_url: str, regions: list[str], weeks: int, end: float) -> dict[str, list]:
    """Each region's mean requests/s per clock hour over the ``weeks`` before ``end`` (epoch seconds):
    {region: [(start of the hour, UTC datetime; rate), ...]} (a region with no series: an empty list)."""
    from datetime import UTC, datetime

    end = end // 3600 * 3600  # whole hours: each sample's [1h] window is one clock hour
    query = {"query": REQUEST_RATES.format(window="1h"), "start": end - weeks * 7 * 86400, "end": end, "step": 3600}
    out: dict[str, list] = {r: [] for r in regions}
    for series in _get(prometheus_url, "query_range", query)["result"]:
        region = series["metric"].get("region")
        if region in out:  # a sample at t covers (t - 1h, t]: it is the hour that starts at t - 1h
            out[region] = [(datetime.fromtimestamp(float(t) - 3600, UTC), float(v)) for t, v in series["values"]]
    return out


def instant(prometheus_url: str, query: str, timeout: float = 5) -> list[tuple[dict[str, str], float]]:
    """Every series of an instant query: (labels, value)."""
    data = _get(prometheus_url, "query", {"query": query}, timeout=timeout)
    return [(r["metric"], float(r["value"][1])) for r in data["result"]]
