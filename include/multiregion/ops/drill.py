"""Task bodies of the failover_drill DAG: preflight → take out → observe → hand back → record.

The drill does to one region what an outage would, through the same paths production uses (its
serving Deployment scaled to 0, or a maintenance drain), and lets the armed failover and recovery
automation do the rest. A probe client follows DNS the way users do (TTL honoured) and counts the
requests that failed. ``hand_back`` runs whatever happened before it (trigger rule all_done): the
region always gets its replicas back, or its maintenance ended, and recovery restores its traffic.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from multiregion.core.drills import DEFAULT_RTO_OBJECTIVE_S, Conditions, Method, Timeline, figures, next_region, refusal
from multiregion.core.errors import BadInputError, PermanentError
from multiregion.core.health import HealthState
from multiregion.core.nearest import client_addresses
from multiregion.core.topology import Topology, load_topology
from multiregion.core.traffic_policy import Action
from multiregion.serving.health_client import health_url
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import TrafficController, backend_for

log = logging.getLogger(__name__)
DRILL_USER = "failover_drill"
OUTAGE_TIMEOUT_S = 300  # the region must be out of DNS by then, or the drill has failed
RESTORE_TIMEOUT_S = 1800
MAX_LATE_S = 3600  # a scheduled drill starting later than this after its slot is refused


class DrillRefused(PermanentError):
    pass


class ProbeClient:
    """Users' view: clients that resolve the record (caching it for its TTL) and call /health where
    DNS points: one with no location, and one from each client location the nearest-region
    answers know (the local world's client subnets), so a region's own users are among them."""

    def __init__(self, topology: Topology, interval: float = 0.2, timeout: float = 1.0) -> None:
        self.topology, self.interval, self.timeout = topology, interval, timeout
        self.requests = self.errors = 0
        self.last_error_at: float | None = None
        self.last_error: str | None = None  # what the last failed request saw
        self._lock = threading.Lock()
        self._stop = threading.Event()
        sources: list[str | None] = [None]
        if hasattr(topology.traffic.backend, "nameserver"):  # source addresses mean something there
            sources += client_addresses(topology)
        self._threads = [threading.Thread(target=self._run, args=(s,), name=f"drill-client-{s}", daemon=True)
                         for s in sources]  # fmt: skip

    def _run(self, source: str | None) -> None:
        backend = backend_for(self.topology)
        region, expires = None, 0.0
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                ok, why = False, "DNS answered no region"
                try:
                    if time.monotonic() >= expires:
                        region, ttl = backend.answer(source)
                        expires = time.monotonic() + ttl
                    if region is not None:
                        endpoint = self.topology.region(region).serving.endpoints[0]
                        status = client.get(health_url(endpoint)).status_code
                        ok, why = status == 200, f"{region}: HTTP {status}"
                except Exception as exc:  # noqa: BLE001 - any failure is what a user would see
                    why = f"{type(exc).__name__}: {exc}"[:200]
                with self._lock:
                    self.requests += 1
                    if not ok:
                        self.errors += 1
                        self.last_error_at, self.last_error = time.time(), f"client {source or 'default'}: {why}"
                self._stop.wait(self.interval)

    def __enter__(self) -> ProbeClient:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


# --- preflight ----------------------------------------------------------------------------------


def _downtime(topology: Topology) -> set[str]:
    from multiregion.core.scaling import in_downtime
    from multiregion.core.scaling_config import load_scaling
    from multiregion.k8s import deployments

    config, now, out = load_scaling(topology), datetime.now(UTC), set()
    for region in topology.regions:
        for info in deployments.list_deployments(region):
            schedule = config.schedule_for(region.name, info.name, info.annotations)
            if info.name == region.kubernetes.deployment and schedule is not None and in_downtime(schedule, now)[0]:
                out.add(region.name)
    return out


def _watcher_age(topology: Topology) -> float | None:
    from multiregion.monitoring import prometheus

    rows = prometheus.instant(
        topology.monitoring.prometheus_url, "time() - max(multiregion_health_watcher_heartbeat_timestamp_seconds)"
    )
    return rows[0][1] if rows else None


def preflight(params: dict[str, Any]) -> dict[str, Any]:
    """Which region and how; refuses (DrillRefused) unless every region is healthy, in traffic at
    its original weight, out of maintenance and downtime, and failover armed."""
    topology, state = load_topology(), StateStore()
    try:
        method = Method(params.get("method") or Method.SCALE_TO_ZERO)
    except ValueError as exc:
        raise BadInputError(f"param method must be one of {[m.value for m in Method]}: {exc}") from exc
    objective = float(params.get("rto_objective_s") or DEFAULT_RTO_OBJECTIVE_S)
    last = next((d["region"] for d in state.drills(20) if d["outcome"] != "refused"), None)
    region = params.get("region") or next_region(topology.region_names, last)
    conditions = Conditions(
        health={r: h.state.value for r, h in state.load_health().items() if r in topology.region_names},
        weights=TrafficController(topology, state=state).weights(),
        originals=state.original_weights(),
        maintenance=set(state.maintenance()),
        downtime=_downtime(topology),
        watcher_age_s=_watcher_age(topology),
    )
    why = refusal(conditions, region)
    late = time.time() - params["scheduled_for"] if params.get("scheduled_for") else 0.0
    if late > MAX_LATE_S:  # e.g. the slot Airflow catches up on when the DAG is unpaused (armed)
        why = f"the scheduled drill is {late / 3600:.1f} h past its off-peak slot; the next slot will run"
    plan = {"region": region, "method": method.value, "rto_objective_s": objective, "weights": conditions.weights}
    if region in topology.region_names:
        from multiregion.k8s import deployments

        plan["replicas"] = deployments.replicas(topology.region(region))[0]  # what hand_back restores
    if why:
        state.record_drill({"run_id": params.get("run_id"), "region": region, "method": method.value,
                            "outcome": "refused", "figures": {}, "detail": why})  # fmt: skip
        raise DrillRefused(f"drill of {region} refused: {why}")
    return plan


# --- take out / observe -------------------------------------------------------------------------


def take_out(plan: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The outage: serving scaled to 0 (recorded replicas), or the maintenance drain."""
    from multiregion.k8s import deployments

    topology = load_topology()
    region = topology.region(plan["region"])
    taken = {**plan, "started_at": time.time()}
    if plan["method"] == Method.SCALE_TO_ZERO:
        deployments.scale(region, 0)
    else:
        health = {r: h.state for r, h in StateStore().load_health().items()}
        why = f"failover drill {run_id}"
        decision = TrafficController(topology).start_maintenance(region.name, why, DRILL_USER, health)
        if decision.action not in (Action.DRAIN, Action.NO_CHANGE):
            raise DrillRefused(f"maintenance drain of {region.name} refused: {decision.reason}")
    log.info("drill %s: %s taken out (%s) at %.3f", run_id, region.name, plan["method"], taken["started_at"])
    return taken


def _wait(what: str, check, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise PermanentError(f"drill: {what} not within {timeout:.0f}s")
        time.sleep(0.2)
    return time.time()


def observe(taken: dict[str, Any]) -> dict[str, Any]:
    """Until DNS stops answering the region: when it was detected, drained and gone from DNS."""
    topology = load_topology()
    region, state, backend = taken["region"], StateStore(), backend_for(topology)
    with ProbeClient(topology) as client:
        drained_at = _wait(f"{region} drained", lambda: backend.get_weights()[region] == 0, OUTAGE_TIMEOUT_S)
        dns_gone_at = _wait(f"{region} out of DNS", lambda: not backend.serves(region), OUTAGE_TIMEOUT_S)
        time.sleep(backend.traffic.ttl + 1)  # clients holding a cached answer finish with it
    health = state.load_health().get(region)
    detected = health.changed_at if health and health.state == HealthState.UNHEALTHY else None
    if taken["method"] == Method.MAINTENANCE:
        detected = drained_at  # nothing to detect: the operator's drain is the signal
    return {**taken, "detected_at": detected, "drained_at": drained_at, "dns_gone_at": dns_gone_at,
            "requests": client.requests, "errors": client.errors, "last_error_at": client.last_error_at,
            "last_error": client.last_error}  # fmt: skip


# --- hand back / record -------------------------------------------------------------------------


def hand_back(plan: dict[str, Any] | None, taken: dict[str, Any] | None, observed: dict[str, Any] | None, run_id: str):
    """Give the region back (whatever failed before) and wait until recovery restored its weight."""
    from multiregion.k8s import deployments

    if plan is None:
        return None  # refused: nothing was taken out
    topology = load_topology()
    region = topology.region(plan["region"])
    # Whatever take_out got done before it failed is undone too (scaled to 0, or drained).
    if plan["method"] == Method.SCALE_TO_ZERO:
        if deployments.replicas(region)[0] == 0:
            deployments.scale(region, max(1, plan["replicas"]))
    elif StateStore().maintenance().get(region.name, {}).get("by_user") == DRILL_USER:
        TrafficController(topology).end_maintenance(region.name, f"failover drill {run_id} over")
    if taken is None:
        return None
    handed_back_at = time.time()
    original = plan["weights"][region.name]
    backend = backend_for(topology)
    with ProbeClient(topology) as client:
        restored_at = _wait(f"{region.name} restored to weight {original}",
                            lambda: backend.get_weights()[region.name] >= original, RESTORE_TIMEOUT_S)  # fmt: skip
    seen = observed or {}
    return {
        **taken,
        **seen,
        "handed_back_at": handed_back_at,
        "restored_at": restored_at,
        "requests": seen.get("requests", 0) + client.requests,
        "errors": seen.get("errors", 0) + client.errors,
        "last_error_at": seen.get("last_error_at"),  # the outage's: it ends the users' outage (RTO)
        "observed": observed is not None,
    }


def _metric(figure: str) -> str:
    """rto_s -> drill_rto_seconds (Prometheus' base unit in the name)."""
    return "drill_" + (figure[:-2] + "_seconds" if figure.endswith("_s") else figure)


def record(plan: dict | None, result: dict | None, run_id: str) -> dict[str, Any]:
    """The drill's figures: a state-store row, metrics (DrillRTOMissed fires on them), a summary."""
    from multiregion.monitoring.pushgateway import push_gauges

    if plan is None:
        raise PermanentError("the drill was refused or its preflight failed (see the preflight task's log)")
    state = StateStore()
    fields = ("started_at", "detected_at", "drained_at", "dns_gone_at", "handed_back_at", "restored_at",
              "requests", "errors", "last_error_at")  # fmt: skip
    timeline = Timeline(**{k: (result or {}).get(k) for k in fields if k != "started_at"},
                        started_at=(result or {}).get("started_at") or time.time())  # fmt: skip
    out = figures(timeline, plan["rto_objective_s"])
    complete = result is not None and result.get("observed") and out["rto_s"] is not None
    outcome = "completed" if complete else "failed"
    detail = None if complete else "a drill task failed: see its log"
    state.record_drill({"run_id": run_id, "region": plan["region"], "method": plan["method"],
                        "outcome": outcome, "figures": out, "detail": detail})  # fmt: skip
    topology = load_topology()
    push_gauges(
        topology.monitoring.pushgateway_url,
        "failover_drill",
        {
            **{_metric(k): v for k, v in out.items() if isinstance(v, int | float) and not isinstance(v, bool)},
            "drill_completed": float(complete),
            "drill_last_timestamp_seconds": time.time(),
        },
        {"region": plan["region"]},
    )
    log.info("drill %s of %s: %s %s", run_id, plan["region"], outcome, out)
    if not complete:
        raise PermanentError(f"drill of {plan['region']} did not complete (the region was handed back): {out}")
    return {"region": plan["region"], "method": plan["method"], **out}
