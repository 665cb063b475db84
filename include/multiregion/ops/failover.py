"""Failover: drain every unhealthy region that still has traffic, scale the survivors, verify,
alert, hand over to recovery.

Reconciles from the persisted state instead of trusting the triggering event alone: several
health events can land in one run (or arrive while a run is going), and whatever the run sees
as unhealthy *now* is what it acts on. The drains are decided by ``traffic.controller`` under
the traffic lock, on the weights read at that moment, so concurrent failover/restore runs never
undo each other.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from multiregion.core.health import HealthState
from multiregion.core.naming import safe_name
from multiregion.core.topology import Topology, load_topology
from multiregion.core.traffic_policy import Action
from multiregion.monitoring.alertmanager import send_alert
from multiregion.monitoring.pushgateway import push_by_label
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import TrafficController, backend_for

log = logging.getLogger(__name__)
REGION_DRAINED = "RegionDrained"  # sent by this DAG; RegionDown (serving not answering) is a Prometheus rule
FAILOVER_REFUSED = "FailoverRefused"  # a Prometheus rule on multiregion_failover_refused


def current_health(topology: Topology, store: StateStore) -> dict[str, HealthState]:
    """Every region's persisted health (UNKNOWN until the watcher has judged it)."""
    known = store.load_health()
    return {r: known[r].state if r in known else HealthState.UNKNOWN for r in topology.region_names}


def drain_unhealthy(run_id: str, trigger_events: list[dict] | None = None) -> dict[str, Any]:
    """Drain what must be drained; returns what was drained and what was refused, and why."""
    topology, store = load_topology(), StateStore()
    controller = TrafficController(topology, state=store)
    for event in trigger_events or []:
        log.info("health event: %s", {k: event.get(k) for k in ("region", "state", "previous", "reason")})
    health = current_health(topology, store)
    log.info("health now: %s", {r: s.value for r, s in health.items()})
    decisions, weights = controller.drain_unhealthy(health, run_id)
    drained, refused = [], []
    for decision in decisions:
        change = decision.change
        entry = {"region": decision.region, "action": decision.action.value, "reason": decision.reason}
        if change is not None:
            entry |= {"old": change.old, "new": change.new, "changed": change.changed}
        log.info("%s: %s (%s)", decision.region, decision.action.value, decision.reason)
        if change is not None and change.changed:
            drained.append(entry)
        elif decision.action in (Action.REFUSE_ALL_UNHEALTHY, Action.REFUSE_LAST_HEALTHY):
            refused.append(entry)
    # Unhealthy regions already at 0 that were drained earlier and never restored (e.g. a restoration
    # rolled back just before this run looked): recovery is started for them too.
    recorded, done = store.original_weights(), {e["region"] for e in drained}
    stalled = [r for r, state in health.items() if state == HealthState.UNHEALTHY and weights[r] == 0 and r in recorded]
    held = set(store.maintenance())  # drained for maintenance: an operator brings it back, not recovery
    stalled = [r for r in stalled if r not in done and r not in held]
    return {"drained": drained, "refused": refused, "stalled": stalled, "weights": weights}


def scale_survivors(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Scale up the regions that took over the drained traffic (Kubernetes).

    Issued right after the drain rather than before it: new pods take tens of seconds or more to
    become ready, and every one of those seconds would keep users pointed at a dead region. The
    survivors' existing replicas carry the load meanwhile; the plan only ever scales up."""
    from multiregion.ops.capacity import ensure_capacity

    if not result["drained"]:
        return []
    old, new = result["drained"][0]["old"], result["drained"][-1]["new"]
    done = ensure_capacity(load_topology(), old, new)
    failed = [d for d in done if "error" in d]
    if failed:
        raise RuntimeError(f"survivors not scaled (traffic was drained anyway): {failed}")
    return done


def verify_drained(regions: list[str], timeout_s: float = 60.0, interval_s: float = 1.0) -> dict[str, float]:
    """Wait until the traffic manager no longer sends anything to ``regions`` (DNS answers in the
    local world); seconds each took. Fails naming the regions still served after the timeout."""
    topology = load_topology()
    backend = backend_for(topology)
    started, pending, took = time.monotonic(), set(regions), {}
    while pending:
        for region in sorted(pending):
            if not backend.serves(region):
                took[region] = round(time.monotonic() - started, 2)
                pending.discard(region)
        if pending and time.monotonic() - started > timeout_s:
            raise TimeoutError(f"traffic still reaches {sorted(pending)} {timeout_s:.0f}s after the drain")
        if pending:
            time.sleep(interval_s)
    return took


def alert_ops(result: dict[str, Any], run_id: str) -> list[str]:
    """RegionDrained for each drained region (resolved when restored); every region's
    ``multiregion_failover_refused`` (1: unhealthy but not drained) for the FailoverRefused rule."""
    topology = load_topology()
    sent = []
    weights = result.get("weights", {})
    for entry in result["drained"]:
        send_alert(
            topology.monitoring.alertmanager_url,
            REGION_DRAINED,
            {"region": entry["region"]},
            f"{entry['region']} drained from DNS, traffic now {weights}",
            f"{entry['reason']} (run {run_id}); automatic recovery started",
        )
        sent.append(f"{REGION_DRAINED}/{entry['region']}")
    refused = {e["region"]: e["reason"] for e in result["refused"]}
    for region, reason in refused.items():
        log.error("%s NOT drained (FailoverRefused): %s; traffic unchanged %s", region, reason, weights)
        sent.append(f"{FAILOVER_REFUSED}/{region}")
    publish_refusals(topology, set(refused))
    return sent


def publish_refusals(topology: Topology, refused: set[str]) -> None:
    """Each run states every region afresh, so a refusal clears once a later run drains the region
    or sees it healthy again."""
    push_by_label(
        topology.monitoring.pushgateway_url,
        "failover",
        "region",
        {"failover_refused": {r: float(r in refused) for r in topology.region_names}},
    )


def recovery_requests(result: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """One recovery run per region drained now or left drained (run id derived from this run:
    re-runs don't duplicate)."""
    safe = safe_name(run_id, keep_last=150)
    regions = [e["region"] for e in result["drained"]] + result.get("stalled", [])
    return [{"trigger_run_id": f"recover__{r}__{safe}", "conf": {"region": r}} for r in regions]
