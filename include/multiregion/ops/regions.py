"""The Regions page's data and its maintenance actions (the plugin API calls these).

One refresh reads every source at once, in threads (each is a few ms of I/O): the traffic
backend's weights, the state store (health, maintenance, drains, audit), Prometheus (one query for
the raw series, one for request rates) and Alertmanager's active alerts. A source that fails is
reported in ``errors`` and its part of the page is left empty; the page never fails as a whole.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from multiregion.core.health import HealthState
from multiregion.core.regions_view import Signals, overview
from multiregion.core.topology import Topology, load_topology
from multiregion.core.traffic_policy import Action, MaintenanceHold
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import TrafficController

SERIES = (
    "up",
    "multiregion_serving_model_version",
    "multiregion_replication_lag_seconds",
    "multiregion_replication_lag_slo_seconds",
    "multiregion_replication_last_success_timestamp_seconds",
    "multiregion_model_replication_lag_seconds",
    "multiregion_model_replication_lag_slo_seconds",
    "multiregion_model_promoted_timestamp_seconds",
    "multiregion_cost_effective_daily",
    "multiregion_scaling_replicas",
    "multiregion_scaling_desired_replicas",
    "multiregion_scrub_unrepairable_objects",
    "multiregion_scrub_repaired_objects",
    "multiregion_scrub_last_success_timestamp_seconds",
)
RAW_QUERY = f'{{__name__=~"{"|".join(SERIES)}", job!~"monitoring|airflow"}}'
AUDIT_EVENTS = 15  # the latest traffic changes shown (drill resets left out)


class ActionRefused(Exception):
    """A maintenance action the safety rules refuse (409)."""


@functools.cache
def _context() -> tuple[Topology, TrafficController, ThreadPoolExecutor]:
    """One topology, controller (backend + state store) and thread pool per API-server process."""
    topology = load_topology()
    return topology, TrafficController(topology, state=StateStore()), ThreadPoolExecutor(8, "regions")


def _alerts(url: str) -> list[dict[str, Any]]:
    from multiregion.monitoring.alertmanager import active_alerts

    return [a for a in active_alerts(url, timeout=3) if a.get("status", {}).get("state") == "active"]


def gather() -> dict[str, Any]:
    from multiregion.monitoring import prometheus

    topology, controller, pool = _context()
    mon, state = topology.monitoring, controller.state
    sources = {
        "weights": controller.backend.get_weights,
        "state": lambda: state.snapshot(4 * AUDIT_EVENTS),
        "metrics": lambda: prometheus.instant(mon.prometheus_url, RAW_QUERY, timeout=3),
        "request_rates": lambda: prometheus.request_rates(mon.prometheus_url, topology.region_names, "1m"),
        "alerts": lambda: _alerts(mon.alertmanager_url),
    }
    futures = {name: pool.submit(fn) for name, fn in sources.items()}
    regions = [{"name": r.name, "cloud": r.cloud.value, "primary": r.name == topology.primary.name}
               for r in topology.regions]  # fmt: skip
    signals = Signals(regions=regions)
    for name, future in futures.items():
        try:
            value = future.result(timeout=5)
        except Exception as exc:  # noqa: BLE001 - one source down leaves the rest of the page up
            signals.errors[name] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        if name == "state":
            signals.health = {r: asdict(h) | {"state": h.state.value} for r, h in value["health"].items()}
            signals.maintenance, signals.drained_since = value["maintenance"], value["drained_since"]
            signals.drills = value["drills"]
            signals.audit = [_event(e) for e in value["audit"] if e["action"] != "reset"][:AUDIT_EVENTS]
        else:
            setattr(signals, name, value)
    return overview(signals, time.time())


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": row["at"].timestamp(),
        "region": row["region"],
        "action": row["action"],
        "old_weight": row["old_weights"].get(row["region"]),
        "new_weight": row["new_weights"].get(row["region"]),
        "reason": row["reason"],
        "run_id": row["run_id"],
    }


def current_health(topology: Topology, state: StateStore, fresh_s: float = 60.0) -> dict[str, HealthState]:
    """The watcher's verdicts; a region it has not judged within ``fresh_s`` (the failover DAG is
    paused, the triggerer is down) is probed now, once: the safety rule needs a real answer."""
    from multiregion.serving.health_client import is_healthy

    known, now = state.load_health(), time.time()
    out = {}
    for region in topology.regions:
        h = known.get(region.name)
        if h is not None and h.state != HealthState.UNKNOWN and now - (h.last_probe_at or 0) < fresh_s:
            out[region.name] = h.state
        else:
            ok = all(is_healthy(e, timeout=2) for e in region.serving.endpoints)
            out[region.name] = HealthState.HEALTHY if ok else HealthState.UNHEALTHY
    return out


def start_maintenance(region: str, reason: str, user: str) -> dict[str, Any]:
    """Drain ``region`` and hold it; refused (``ActionRefused``) for the last healthy region."""
    topology, controller, _ = _context()
    topology.region(region)  # unknown region: KeyError
    health = current_health(topology, controller.state)
    try:
        decision = controller.start_maintenance(region, f"{reason} (by {user})", user, health)
    except MaintenanceHold as exc:
        raise ActionRefused(str(exc)) from None
    if decision.action not in (Action.DRAIN, Action.NO_CHANGE):
        raise ActionRefused(decision.reason)
    return {"region": region, "action": decision.action.value, "weights": decision.new_weights}


def end_maintenance(region: str, reason: str, user: str) -> dict[str, Any]:
    """Bring ``region`` back to its recorded weight; refused while its serving is unhealthy."""
    topology, controller, _ = _context()
    topology.region(region)
    if current_health(topology, controller.state)[region] == HealthState.UNHEALTHY:
        raise ActionRefused(f"{region} is unhealthy (its serving fails health checks): fix it before bringing it back")
    try:
        return {"region": region, **controller.end_maintenance(region, f"{reason} (by {user})")}
    except MaintenanceHold as exc:
        raise ActionRefused(str(exc)) from None
