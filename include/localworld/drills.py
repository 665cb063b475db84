"""Failover drills in the local world: arm the failover automation, take a region down, watch the
traffic move. Shared by the end-to-end tests, the failover benchmark and the demo."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from localworld import controller
from localworld.settings import WorldSettings
from multiregion.airflow_api import AirflowClient
from multiregion.core.health import HealthState
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import TrafficController, backend_for

FAILOVER_DAG, RECOVERY_DAG = "region_failover", "region_recovery"


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; that value, or TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


def original_weights(settings: WorldSettings) -> dict[str, int]:
    return {r.name: r.traffic.weight for r in settings.topology.regions}


def start_serving(settings: WorldSettings) -> None:
    """Every region's serving process up (those a drill stopped)."""
    states = {name: state for name, state, _ in controller.status(settings)}
    for name in (f"serving-{r}" for r in settings.topology.region_names):
        if states.get(name) != "RUNNING":
            controller.start_service(settings, name)


def all_healthy(settings: WorldSettings, since: float = 0.0) -> bool:
    """The health watcher has judged every region healthy (on a probe after ``since``)."""
    health = StateStore().load_health()
    return all(
        (h := health.get(r)) is not None and h.state == HealthState.HEALTHY and (h.last_probe_at or 0) > since
        for r in settings.topology.region_names
    )


def reset(settings: WorldSettings) -> None:
    """Every serving process up, the topology's weights in DNS, no recorded originals."""
    from multiregion.ops.failover import publish_refusals

    start_serving(settings)
    TrafficController(settings.topology).reset(original_weights(settings), "drill reset: the topology's weights")
    publish_refusals(settings.topology, set())


def arm(client: AirflowClient, settings: WorldSettings, recovery_conf: dict | None = None, timeout=180) -> None:
    """Unpause the failover DAG and wait until its health watcher reports every region healthy.
    (The watcher starts when the dag-processor next parses the DAG file after the unpause.)"""
    client.set_variable("region_recovery_conf", recovery_conf or {})
    since = time.time()
    client.unpause(FAILOVER_DAG)

    wait_for("health watcher running with every region healthy", lambda: all_healthy(settings, since), timeout, 1)


def active_runs(client: AirflowClient, dag_id: str) -> list[dict]:
    return [r for r in client.runs(dag_id, limit=20) if r["state"] in ("queued", "running")]


def disarm(client: AirflowClient, timeout: float = 600) -> None:
    """Let the runs the automation started finish (recovery included), then pause the failover
    DAG. Runs of a paused DAG don't progress, so a run created in between is let finish first."""
    for _ in range(5):
        for dag_id in (FAILOVER_DAG, RECOVERY_DAG):
            wait_for(f"{dag_id} runs to finish", lambda d=dag_id: not active_runs(client, d), timeout, interval=2)
        client.pause(FAILOVER_DAG)
        if not active_runs(client, FAILOVER_DAG):
            return
        client.unpause(FAILOVER_DAG)
    raise RuntimeError(f"{FAILOVER_DAG} keeps starting runs: is a region still unhealthy?")


def take_down(settings: WorldSettings, *regions: str) -> float:
    """Stop the regions' serving processes at once; the time it happened (epoch seconds)."""
    at = time.time()
    controller.stop_service(settings, *(f"serving-{r}" for r in regions))
    return at


@contextmanager
def frozen(settings: WorldSettings, *regions: str) -> Iterator[float]:
    """Freeze the regions' serving processes in the same instant (SIGSTOP: probes time out), so the
    health watcher sees them fail in the same probe round; thawed on exit. Yields when it happened.
    (Stopping them through the supervisor takes seconds each: the first would be drained while
    the last still answered.)"""
    import signal

    pids = [controller.service_pid(settings, f"serving-{r}") for r in regions]
    at = time.time()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield at
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def time_to_drain(settings: WorldSettings, region: str, since: float, timeout: float = 120) -> dict[str, float]:
    """Seconds from ``since`` until the region's weight is 0, and until DNS stops answering it."""
    backend = backend_for(settings.topology)
    wait_for(f"{region} weight 0", lambda: backend.get_weights()[region] == 0, timeout, interval=0.2)
    drained = time.time() - since
    wait_for(f"DNS without {region}", lambda: not backend.serves(region), timeout, interval=0.2)
    return {"weight_zero_s": round(drained, 2), "dns_gone_s": round(time.time() - since, 2)}


def flap(settings: WorldSettings, region: str, cycles: int, down_s: float, up_s: float) -> int:
    """Freeze the region's serving process (SIGSTOP: connections hang, probes time out) for
    ``down_s``, let it run ``up_s``, ``cycles`` times: a region flapping. Probes seen failing."""
    import signal

    import httpx

    from multiregion.serving.health_client import health_url

    pid = controller.service_pid(settings, f"serving-{region}")
    url = health_url(settings.topology.region(region).serving.endpoints[0])
    failed = 0
    for _ in range(cycles):
        os.kill(pid, signal.SIGSTOP)
        try:
            httpx.get(url, timeout=min(0.5, down_s / 2))
        except httpx.TimeoutException:
            failed += 1  # what the health watcher sees too
        finally:
            time.sleep(max(0.0, down_s - 0.5))
            os.kill(pid, signal.SIGCONT)
        time.sleep(up_s)
    return failed
