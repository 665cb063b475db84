"""Benchmark: one scaling pass over 3 regions x 50 deployments (the scaling_schedule DAG's work).

Starts its own kube-api emulator on a free port (never the world's) seeded with 50 deployments
per region, each scheduled by annotations, and measures side by side in one run:
- the pure decision (``core.scaling.decide``) per deployment, median of ``--repeat`` passes
  (goal: under 1 ms per deployment);
- the API calls of a pass through the real ``KubernetesHook``: listing every region's deployments,
  then a scale-down of all 150 (record annotation + scale subresource) and their restore;
- reference: one bare GET of the emulator per call the pass makes (what the API costs alone).
Results: bench/results/scaling.{json,md}. Needs no running world.

    .venv/bin/python bench/scaling.py [--per-region 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-region", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from localworld.connections import build_connections, connection_env
    from localworld.kube_emulator import DeploymentSeed, emulator_process
    from localworld.secrets import load_or_create_secrets
    from localworld.settings import load_settings

    from multiregion.core.health import HealthState
    from multiregion.core.scaling import Deployment, Fleet, decide
    from multiregion.core.scaling_config import PREFIX, ScalingConfig, original_replicas
    from multiregion.k8s import deployments
    from multiregion.ops.scaling import _change

    settings = dataclasses.replace(load_settings(), kube_port=_free_port())
    topology = settings.topology
    seeds = [
        DeploymentSeed(r.name, r.kubernetes.namespace, f"svc-{i:03d}", 4)
        for r in topology.regions
        for i in range(args.per_region)
    ]
    with emulator_process(settings.kube_port, seeds, "--ready-delay", "0"):
        env = connection_env(build_connections(settings, load_or_create_secrets(settings.state_dir)))
        os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW_CONN_K8S_")})
        annotations = {PREFIX + "downtime": "always", PREFIX + "downtime-replicas": "1", PREFIX + "grace-period": "0s"}

        started = time.perf_counter()
        for r in topology.regions:  # one client per region and process: imports, kubeconfig
            deployments._apps_api(r)
        setup_s = time.perf_counter() - started
        started = time.perf_counter()
        listed = {r.name: deployments.list_deployments(r) for r in topology.regions}
        list_s = time.perf_counter() - started
        config = ScalingConfig(timedelta_min(5), False, 20.0, {}, "bench")
        healthy = dict.fromkeys(topology.region_names, HealthState.HEALTHY)
        fleet = Fleet(healthy, {r.name: r.traffic.weight for r in topology.regions}, frozenset(), None, 20.0)
        now = datetime.now(UTC)
        deps = [
            (
                config.schedule_for(region, info.name, annotations),
                Deployment(region, info.name, info.replicas, None, original_replicas(region, info.name, {})),
            )
            for region, infos in listed.items()
            for info in infos
        ]
        passes = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            decisions = [decide(schedule, dep, fleet, now) for schedule, dep in deps]
            passes.append((time.perf_counter() - t0) / len(deps) * 1000)
        down = [d for d in decisions if d.changed]

        t0 = time.perf_counter()
        for d in down:
            _change(deployments, topology.region(d.region), {**_plain(d), "action": d.action.value})
        apply_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for d in down:
            restore = {**_plain(d), "desired": d.current, "action": "restore", "record": None}
            _change(deployments, topology.region(d.region), restore)
        restore_s = time.perf_counter() - t0

        # The reference: one bare GET of the emulator per API call of the pass (list + 2 per change, x2)
        calls = len(topology.regions) + 4 * len(down)
        client = httpx.Client()
        t0 = time.perf_counter()
        for _ in range(calls):
            client.get(f"{settings.kube_url}/healthz")
        bare_s = time.perf_counter() - t0

    n = len(deps)
    result = {
        "deployments": n,
        "decision_ms_per_deployment_p50": round(statistics.median(passes), 4),
        "client_setup_s": round(setup_s, 3),
        "list_s": round(list_s, 3),
        "scale_down_s": round(apply_s, 3),
        "restore_s": round(restore_s, 3),
        "changes": len(down),
        "api_calls": calls,
        "bare_get_s_for_same_calls": round(bare_s, 3),
        "pass_over_bare_ratio": round((list_s + apply_s + restore_s) / bare_s, 2),
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# One scaling pass: {len(topology.regions)} regions x {args.per_region} deployments ({n})",
        "",
        "| what | figure |",
        "|---|---|",
        f"| pure decision per deployment (median of {args.repeat}) | {result['decision_ms_per_deployment_p50']} ms |",
        f"| API clients for 3 regions (once per process: imports, kubeconfig) | {result['client_setup_s']} s |",
        f"| list every region's deployments | {result['list_s']} s |",
        f"| scale down {len(down)} (record annotation + scale) | {result['scale_down_s']} s |",
        f"| restore {len(down)} (scale + clear record) | {result['restore_s']} s |",
        f"| reference: {calls} bare GETs of the same API server | {result['bare_get_s_for_same_calls']} s |",
        f"| pass (list + scale down + restore) / reference | {result['pass_over_bare_ratio']}x |",
        "",
    ]
    (RESULTS / "scaling.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def timedelta_min(minutes: int):
    from datetime import timedelta

    return timedelta(minutes=minutes)


def _plain(d) -> dict:
    return {
        "region": d.region,
        "deployment": d.deployment,
        "current": d.current,
        "desired": d.desired,
        "record": d.record,
    }


if __name__ == "__main__":
    raise SystemExit(main())
