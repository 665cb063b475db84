"""Benchmark: failover and staged restoration in the local world (`scripts/world.sh up` first).

Each run kills a region's serving process (supervisorctl stop, as a crash would look from
outside) and measures, with the failover DAG armed exactly as a user arms it:
  - detection -> drain: seconds until the region's weight is 0 in the traffic manager;
  - seconds until DNS answers (50 queries to PowerDNS) no longer contain it;
  - the full recovery: seconds until the region is back at its recorded weight, and the staged
    restoration itself (first step set -> restored), with the DAG's default plan (hold 30 s,
    steps 10/25/50/100 %, 30 s each, resync on) unless --fast.
Reference, side by side: the goals (p50 <= 15 s, p95 <= 25 s) and the managed services' documented
defaults (Route53 health checks: 30 s interval x 3 failures = ~90 s to unhealthy; TTL on top).
Results: bench/results/failover.{json,md} (--fast: failover-fast.*).

    .venv/bin/python bench/failover.py [--runs 5] [--region us-west-2] [--fast]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
GOALS = {"weight_zero_s": {"p50": 15.0, "p95": 25.0}}
REFERENCE = {
    "Route53 (defaults: 30 s interval, failure threshold 3)": "~90 s to unhealthy + record TTL",
    "Route53 fast health checks (10 s interval, threshold 3)": "~30 s to unhealthy + record TTL",
}
FAST_CONF = {"hold_s": 3, "step_hold_s": 3, "resync": False}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 2)


def one_run(client, settings, region: str, index: int) -> dict:
    from localworld import drills

    from multiregion.state.postgres import StateStore
    from multiregion.traffic.controller import backend_for

    backend = backend_for(settings.topology)
    original = drills.original_weights(settings)
    at = drills.take_down(settings, region)
    row = {"run": index, **drills.time_to_drain(settings, region, at)}
    drills.wait_for("restored", lambda: backend.get_weights() == original, 1800, interval=0.5)
    # ... and its recovery run finished (the last step's hold passed, RegionRestored sent)
    drills.wait_for("recovery finished", lambda: not drills.active_runs(client, drills.RECOVERY_DAG), 600)
    row["recovered_s"] = round(time.time() - at, 2)
    steps = [
        a["at"].timestamp()
        for a in StateStore().audit(50)
        if a["region"] == region and a["action"] == "restore_step" and a["at"].timestamp() >= at
    ]
    row["restoration_s"] = round(time.time() - min(steps), 2) if steps else None
    row["restore_steps"] = len(steps)
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--region", default="us-west-2")
    parser.add_argument("--fast", action="store_true", help="short holds, no resync (detection figures only)")
    args = parser.parse_args()

    from localworld import drills
    from localworld.secrets import load_or_create_secrets
    from localworld.services import airflow_env
    from localworld.settings import load_settings

    from multiregion.airflow_api import AirflowClient

    settings = load_settings()
    secrets = load_or_create_secrets(settings.state_dir)
    os.environ.update(airflow_env(settings, secrets))  # the StateStore/backends use the world's connections
    client = AirflowClient(settings.airflow_url, "admin", secrets.airflow_admin_password)
    conf = FAST_CONF if args.fast else {}
    drills.reset(settings)
    drills.arm(client, settings, conf)
    rows = []
    try:
        for i in range(args.runs):
            rows.append(one_run(client, settings, args.region, i + 1))
            time.sleep(5)  # let the "healthy again" failover run finish before the next kill
    finally:
        drills.reset(settings)
        drills.disarm(client)

    summary = {}
    for key in ("weight_zero_s", "dns_gone_s", "recovered_s", "restoration_s"):
        values = [r[key] for r in rows if r[key] is not None]
        summary[key] = {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values)}
    met = {k: all(summary[k][p] <= g for p, g in goal.items()) for k, goal in GOALS.items()}
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "region": args.region,
        "recovery_conf": conf or "DAG defaults (hold 30 s, steps 10/25/50/100 %, 30 s each, resync on)",
        "runs": rows,
        "summary": summary,
        "goals": GOALS,
        "goals_met": met,
        "reference": REFERENCE,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "failover-fast" if args.fast else "failover"
    # Side by side: detection in the last recorded full run on this machine (before this change)
    previous = RESULTS / "failover.json"
    before = json.loads(previous.read_text())["summary"]["weight_zero_s"] if previous.exists() else None
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# Failover benchmark ({result['when']}, {args.runs} runs, region {args.region})",
        "",
        f"Recovery settings: {result['recovery_conf']}",
        "",
        "| measure | p50 (s) | p95 (s) | max (s) | goal |",
        "|---|---|---|---|---|",
    ]
    for key, stats in summary.items():
        goal = GOALS.get(key)
        goal_text = f"p50 <= {goal['p50']}, p95 <= {goal['p95']}: {'met' if met[key] else 'NOT met'}" if goal else ""
        lines.append(f"| {key} | {stats['p50']} | {stats['p95']} | {stats['max']} | {goal_text} |")
    if before:
        now = summary["weight_zero_s"]
        lines += [
            "",
            f"Detection -> drain against the previous recorded run ({previous.name}): "
            f"p50 {now['p50']} vs {before['p50']} s ({now['p50'] / before['p50']:.2f}x), "
            f"p95 {now['p95']} vs {before['p95']} s ({now['p95'] / before['p95']:.2f}x)",
        ]
    lines += ["", "Reference (documented defaults, not runnable here):", ""]
    lines += [f"- {name}: {figure}" for name, figure in REFERENCE.items()]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
