"""Benchmark: how fast the Regions page's API answers (the page refreshes every 3 s; goal p95 <= 100 ms).

Against the running local world, side by side in one run (``--n`` requests each, logged in with a
Bearer JWT like the UI's cookie):
- ``regions-api``: ``GET /multiregion/api/regions``, every source of the page (DNS weights, the
  state store, two Prometheus queries, Alertmanager) read in parallel;
- reference ``airflow-health``: ``GET /api/v2/monitor/health`` on the same API server;
- reference ``prometheus-query``: one instant query of the page's raw series, straight to Prometheus.
Results: bench/results/regions_page.{json,md}. Measured, not asserted.

    eval "$(scripts/world.sh env)"; .venv/bin/python bench/regions_page.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))
from webhook import percentiles, table, timed  # noqa: E402 - one set of helpers for the HTTP benches


def _token(settings, password: str) -> str:
    resp = httpx.post(f"{settings.airflow_url}/auth/token", json={"username": "admin", "password": password})
    resp.raise_for_status()
    return resp.json()["access_token"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()

    from localworld.secrets import load_or_create_secrets
    from localworld.settings import load_settings

    from multiregion.ops.regions import RAW_QUERY

    settings = load_settings()
    token = _token(settings, load_or_create_secrets(settings.state_dir).airflow_admin_password)
    client = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"})
    page = f"{settings.airflow_url}/multiregion/api/regions"
    if client.get(page).json().get("errors"):
        raise SystemExit(f"a source of the page is down: {client.get(page).json()['errors']}")
    prom = f"{settings.topology.monitoring.prometheus_url}/api/v1/query"
    for _ in range(5):  # warm: pools, caches
        client.get(page)
    rows = {
        "regions-api": timed(lambda: client.get(page).raise_for_status(), args.n),
        "airflow-health": timed(lambda: client.get(f"{settings.airflow_url}/api/v2/monitor/health"), args.n),
        "prometheus-query": timed(lambda: client.get(prom, params={"query": RAW_QUERY}), args.n),
    }
    summary = percentiles(rows)
    ratio = summary["regions-api"]["p50_ms"] / summary["airflow-health"]["p50_ms"]
    goal = summary["regions-api"]["p95_ms"] <= 100
    result = {"n": args.n, "cpus": os.cpu_count(), "at": time.time(), "summary": summary,
              "api_over_health_p50": round(ratio, 2), "p95_goal_100ms_met": goal}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "regions_page.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Regions page API answer time (local world)",
        "",
        f"{args.n} requests each, one after the other, on {os.cpu_count()} CPUs.",
        "",
        *table(summary),
        "",
        f"regions-api / airflow-health (p50): **{ratio:.2f}x**; p95 goal (<= 100 ms) {'met' if goal else 'NOT met'}",
        "",
    ]
    (RESULTS / "regions_page.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
