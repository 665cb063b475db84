"""Benchmark: how fast the registry webhook answers MLflow (it must answer fast: MLflow waits on it).

Against the running local world, side by side in one run (medians of ``--n`` requests each):
- ``webhook``: a signed delivery the endpoint has already recorded (signature check, the model's
  lookup in the primary registry, the locked dedup query in Airflow's metadata DB): the whole path
  but the one INSERT a first delivery adds (measured once, as ``first``);
- reference ``airflow-health``: ``GET /api/v2/monitor/health`` on the same API server;
- reference ``registry-lookup``: the primary registry's ``registered-models/get`` the webhook calls.
Results: bench/results/webhook.{json,md}.

    eval "$(scripts/world.sh env)"; .venv/bin/python bench/webhook.py [--n 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def percentiles(rows: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        name: {"p50_ms": round(statistics.median(v), 1), "p95_ms": round(sorted(v)[int(0.95 * len(v)) - 1], 1)}
        for name, v in rows.items()
    }


def table(summary: dict[str, dict[str, float]]) -> list[str]:
    return [
        *table(summary),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()

    from localworld.secrets import load_or_create_secrets
    from localworld.settings import load_settings

    from multiregion.core.registry_events import sign
    from multiregion.registry.mlflow_registry import RegionRegistry

    settings = load_settings()
    secret = load_or_create_secrets(settings.state_dir).mlflow_webhook_secret
    primary = settings.topology.primary
    model = primary.serving.model
    version = RegionRegistry(primary).alias_version(model, "champion")
    if not version:
        raise SystemExit(f"{model}@champion is not in the primary registry: run the demo first")
    url = f"{settings.airflow_url}/multiregion/webhooks/mlflow"
    body = json.dumps(
        {"entity": "model_version", "action": "created", "data": {"name": model, "version": version}}
    ).encode()
    delivery = str(uuid.uuid4())
    client = httpx.Client(timeout=30)

    def deliver(expect: str) -> None:
        ts = str(int(time.time()))
        headers = {"X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": ts}
        headers["X-MLflow-Signature"] = sign(secret, delivery, ts, body)
        resp = client.post(url, content=body, headers=headers)
        if resp.status_code != 202 or resp.json()["status"] != expect:
            raise SystemExit(f"unexpected answer {resp.status_code}: {resp.text}")

    first = timed(lambda: deliver("accepted"), 1)[0]  # one real (idempotent) staging run follows
    lookup_url = f"{primary.registry.uri.rstrip('/')}/api/2.0/mlflow/registered-models/get"
    rows = {
        "webhook": timed(lambda: deliver("duplicate"), args.n),
        "airflow-health": timed(lambda: client.get(f"{settings.airflow_url}/api/v2/monitor/health"), args.n),
        "registry-lookup": timed(lambda: client.get(lookup_url, params={"name": model}), args.n),
    }
    summary = percentiles(rows)
    summary["first"] = {"p50_ms": round(first, 1), "p95_ms": round(first, 1)}
    ratio = summary["webhook"]["p50_ms"] / summary["airflow-health"]["p50_ms"]
    result = {"n": args.n, "cpus": os.cpu_count(), "summary": summary, "webhook_over_health_p50": round(ratio, 2)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "webhook.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Registry webhook answer time (local world, medians)",
        "",
        f"{args.n} requests each; `first` is one delivery recorded for the first time.",
        "",
        *table(summary),
        "",
        f"webhook / airflow-health (p50): **{ratio:.2f}x**",
        "",
    ]
    (RESULTS / "webhook.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
