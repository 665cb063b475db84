"""Task bodies of ``scaling_schedule``: read the fleet, decide per deployment, apply, audit.

Before a scale-down the original replicas are recorded on the Deployment (an annotation), then
it is scaled; a restore scales first and clears the record after. A kill between the two steps
leaves a state the next run completes: a record with the replicas unchanged, or restored replicas
with a record that the next run clears.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from multiregion.core.health import HealthState
from multiregion.core.scaling import Deployment, Fleet, ScaleAction, decide
from multiregion.core.scaling_config import ORIGINAL_REPLICAS, ScalingConfig, load_scaling, original_replicas
from multiregion.core.topology import Topology, load_topology, select_regions

log = logging.getLogger(__name__)
HEALTH_FRESH_S = 30.0  # the watcher's stored health is used when this fresh; else a probe now
SCALING_FAILED = "ScalingFailed"


def parse_now(text: str | None) -> datetime:
    """``now`` from an ISO param (tests and previews inject time this way), else the clock."""
    if not text:
        return datetime.now(UTC)
    from multiregion.core.errors import BadInputError

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(f"now: {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise BadInputError(f"now: {text!r} needs a UTC offset (e.g. 2026-12-01T23:00:00+00:00)")
    return value


def fleet_state(topology: Topology, config: ScalingConfig) -> Fleet:
    """Health, weights, restorations in progress and request rates of every region."""
    from multiregion.monitoring.prometheus import PrometheusError, request_rates
    from multiregion.serving.health_client import is_healthy
    from multiregion.state.postgres import StateStore
    from multiregion.traffic.controller import TrafficController

    stored = StateStore().load_health()
    health = {}
    for region in topology.regions:
        known = stored.get(region.name)
        if known is not None and time.time() - (known.last_probe_at or 0) < HEALTH_FRESH_S:
            health[region.name] = known.state
        else:  # the watcher isn't running (failover disarmed): judge by a probe now
            healthy = is_healthy(region.serving.endpoints[0])
            health[region.name] = HealthState.HEALTHY if healthy else HealthState.UNHEALTHY
    traffic = TrafficController(topology)
    try:
        rates = request_rates(topology.monitoring.prometheus_url, topology.region_names)
    except PrometheusError as exc:
        log.warning("request rates unknown (no downscale can prove its headroom): %s", exc)
        rates = None
    return Fleet(health, traffic.weights(), frozenset(traffic.original_weights()), rates, config.requests_per_replica)


def plan(now_param: str | None = None, regions: list[str] | None = None) -> dict[str, Any]:
    """Every scheduled deployment's decision (JSON-simple), and the fleet it was decided on."""
    from multiregion.k8s import deployments

    topology = load_topology()
    config = load_scaling(topology)
    now = parse_now(now_param)
    fleet = fleet_state(topology, config)
    decisions = []
    for region in select_regions(regions, topology):
        for info in deployments.list_deployments(region):
            schedule = config.schedule_for(region.name, info.name, info.annotations)
            if schedule is None:
                continue
            dep = Deployment(
                region.name,
                info.name,
                info.replicas,
                info.created_at,
                original_replicas(region.name, info.name, info.annotations),
            )
            d = decide(schedule, dep, fleet, now)
            log.info("%s/%s: %s %d -> %d (%s)", d.region, d.deployment, d.action, d.current, d.desired, d.reason)
            decisions.append(
                {
                    "region": d.region,
                    "deployment": d.deployment,
                    "current": d.current,
                    "desired": d.desired,
                    "action": d.action.value,
                    "reason": d.reason,
                    "record": d.record,
                    "changed": d.changed,
                }
            )
    return {
        "now": now.isoformat(),
        "dry_run_default": config.dry_run,
        "fleet": {"health": {r: s.value for r, s in fleet.health.items()}, "weights": dict(fleet.weights)},
        "decisions": decisions,
    }


def apply(planned: dict[str, Any], dry_run: bool, run_id: str | None) -> dict[str, Any]:
    """Apply the changes (or, dry, only report them); one audit row and one metric per change.
    A failed scale call alerts ``ScalingFailed`` and fails the task after the others are done."""
    from multiregion.k8s import deployments
    from multiregion.monitoring.alertmanager import AlertError, send_alert
    from multiregion.state.postgres import StateStore

    topology, store = load_topology(), StateStore()
    done, failed = [], []
    for d in (d for d in planned["decisions"] if d["changed"]):
        region = topology.region(d["region"])
        try:
            if not dry_run:
                _change(deployments, region, d)
        except Exception as exc:  # noqa: BLE001 - every deployment gets its turn; failures alert
            log.error("%s/%s: scaling to %d failed: %s", d["region"], d["deployment"], d["desired"], exc)
            failed.append({**d, "error": str(exc)[:500]})
            try:
                send_alert(
                    topology.monitoring.alertmanager_url,
                    SCALING_FAILED,
                    {"region": d["region"], "deployment": d["deployment"]},
                    f"scaling {d['region']}/{d['deployment']} {d['current']} -> {d['desired']} failed",
                    f"{exc} (run {run_id}); {d['reason']}",
                )
            except AlertError:
                log.exception("could not alert ops")
            _push(topology, d, d["current"], dry_run)  # behind its schedule: ScalingBehindSchedule if it stays so
            continue
        store.record_scaling({**d, "dry_run": dry_run, "run_id": run_id})
        _push(topology, d, d["current"] if dry_run else d["desired"], dry_run)
        done.append(d)
    for d in (d for d in planned["decisions"] if not d["changed"]):  # in step with the schedule: said so too
        _push(topology, d, d["current"], dry_run)
    if failed:
        raise RuntimeError(f"{len(failed)} scaling change(s) failed (alerted {SCALING_FAILED}): {failed}")
    return {"dry_run": dry_run, "changed": done}


def _push(topology: Any, d: dict[str, Any], replicas: int, dry_run: bool) -> None:
    from multiregion.monitoring.pushgateway import push_gauges

    push_gauges(
        topology.monitoring.pushgateway_url,
        "scaling_schedule",
        {
            "scaling_replicas": replicas,
            "scaling_desired_replicas": d["desired"],
            "scaling_last_change_timestamp_seconds": time.time(),
        },
        {"region": d["region"], "deployment": d["deployment"], "dry_run": str(dry_run)},
    )


def _change(deployments: Any, region: Any, d: dict[str, Any]) -> None:
    name, desired = d["deployment"], d["desired"]
    if d["action"] == ScaleAction.RESTORE:
        deployments.scale(region, desired, name)  # first the replicas, then the record goes
        deployments.annotate(region, name, {ORIGINAL_REPLICAS: None})
        return
    if d["record"] is not None:  # first the record, then the scale-down: restoring reads it
        deployments.annotate(region, name, {ORIGINAL_REPLICAS: str(d["record"])})
    deployments.scale(region, desired, name)
