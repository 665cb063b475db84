"""The one home of every traffic change: failover drains, restoration steps, rollbacks, weights
set by hand (maintenance drains) and drill resets all go through ``TrafficController``.

Each change runs in this order, in one transaction:
1. the traffic lock (a PostgreSQL advisory lock: one change at a time across workers and DAGs);
2. the backend's weights, read once;
3. the pure decision (``core.traffic_policy``): what the weights become, and why;
4. ``set_weights`` on the backend (skipped when nothing changes);
5. one audit row per region whose weight changed, and its original weight when the change
   takes it to 0 (the restoration target).
A failure before the commit leaves no audit row for a change that didn't happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from multiregion.core.health import HealthState
from multiregion.core.topology import Topology, load_topology
from multiregion.core.traffic_policy import (
    Action,
    ChangeKind,
    DrainDecision,
    MaintenanceHold,
    TrafficChange,
    available,
    decide_maintenance_drain,
    decide_weight,
    plan_failover,
)
from multiregion.state.postgres import StateStore, TrafficLog
from multiregion.traffic.base import TrafficBackend, TrafficBackendError

log = logging.getLogger(__name__)


def backend_for(topology: Topology) -> TrafficBackend:
    """The traffic backend the topology names (its SDK is imported only when chosen)."""
    kind = topology.traffic.backend.kind
    if kind == "powerdns":
        from multiregion.traffic.powerdns import PowerDnsBackend

        return PowerDnsBackend(topology)
    if kind == "route53":
        from multiregion.traffic.route53 import Route53Backend

        return Route53Backend(topology)
    if kind == "cloudflare":
        from multiregion.traffic.cloudflare import CloudflareBackend

        return CloudflareBackend(topology)
    raise TrafficBackendError(f"traffic backend {kind!r} is not available yet")


@dataclass(frozen=True)
class Outcome:
    """What one locked decision did: the changes made and the weights before and after."""

    changes: list[TrafficChange]
    before: dict[str, int]
    after: dict[str, int]


class TrafficController:
    def __init__(
        self,
        topology: Topology | None = None,
        backend: TrafficBackend | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.topology = topology or load_topology()
        self.backend = backend or backend_for(self.topology)
        self.state = state or StateStore()

    def _change(
        self,
        decide: Callable[[dict[str, int], TrafficLog], list[TrafficChange]],
        run_id: str | None,
        after: Callable | None = None,
    ) -> Outcome:
        with self.state.traffic_lock() as txlog:
            before = self.backend.get_weights()
            changes = decide(dict(before), txlog)
            final = changes[-1].new if changes else before
            if final != before:
                self.backend.set_weights(final, current=before)
            for change in changes:
                self._record(txlog, change, run_id)
            if after is not None:
                after(txlog)
        self._publish(final)
        return Outcome(changes, before, final)

    def _publish(self, weights: Mapping[str, int]) -> None:
        """The weights, drains and maintenance as metrics (RegionDrainedTooLong, the dashboards);
        best effort: a Pushgateway outage never undoes or blocks a traffic change."""
        from multiregion.monitoring.pushgateway import PushError, push_traffic

        try:
            push_traffic(
                self.topology.monitoring.pushgateway_url,
                weights,
                self.state.drained_since(),
                set(self.state.maintenance()),
            )
        except PushError as exc:
            log.warning("traffic metrics not pushed: %s", exc)

    @staticmethod
    def _record(txlog: TrafficLog, change: TrafficChange, run_id: str | None) -> None:
        if not change.changed:
            return
        if change.records_original:
            txlog.record_original(change.region, change.old[change.region], run_id)
        txlog.audit(change.region, change.kind.value, change.old, change.new, change.reason, run_id)
        log.info("%s %s: %s -> %s (%s)", change.kind.value, change.region, change.old, change.new, change.reason)

    # --- the changes --------------------------------------------------------------------------
    def drain_unhealthy(
        self, health: Mapping[str, HealthState], run_id: str | None
    ) -> tuple[list[DrainDecision], dict[str, int]]:
        """Drain every unhealthy region that still has traffic (never the last healthy one), all
        decided on one read of the weights; the decisions (drains and refusals) and the weights after."""
        decisions: list[DrainDecision] = []

        def decide(weights: dict[str, int], txlog: TrafficLog) -> list[TrafficChange]:
            decisions.extend(plan_failover(weights, available(health, txlog.maintenance())))
            return [d.change for d in decisions if d.change is not None]

        outcome = self._change(decide, run_id)
        return decisions, outcome.after

    def set_weight(self, region: str, weight: int, kind: ChangeKind, reason: str, run_id: str | None) -> dict:
        """One region's weight (a restoration step, a rollback, a maintenance drain by hand):
        ``{"old", "new", "changed"}``."""
        decide = lambda w, txlog: [decide_weight(kind, region, weight, w, reason, txlog.maintenance())]  # noqa: E731
        (change,) = self._change(decide, run_id).changes
        return {"old": change.old, "new": change.new, "changed": change.changed}

    def finish_restoration(self, region: str) -> None:
        """Restored: forget the recorded original (the next drain records afresh)."""
        self._change(lambda _w, _m: [], None, after=lambda txlog: txlog.forget_original(region))

    def start_maintenance(
        self, region: str, reason: str, user: str, health: Mapping[str, HealthState]
    ) -> DrainDecision:
        """Drain ``region`` for maintenance (the failover's rules: never the last healthy region) and
        keep it drained until ``end_maintenance``; a refusal changes nothing."""
        decisions: list[DrainDecision] = []

        def decide(weights: dict[str, int], txlog: TrafficLog) -> list[TrafficChange]:
            maintenance = txlog.maintenance()
            if region in maintenance:
                raise MaintenanceHold(f"{region} is already drained for maintenance")
            d = decide_maintenance_drain(region, weights, health, maintenance, reason)
            decisions.append(d)
            if d.action != Action.DRAIN:
                return []
            return [TrafficChange(ChangeKind.MAINTENANCE, region, d.old_weights or {}, d.new_weights, d.reason)]

        def mark(txlog: TrafficLog) -> None:
            if decisions[0].action in (Action.DRAIN, Action.NO_CHANGE):
                txlog.start_maintenance(region, reason, user)
                if decisions[0].action == Action.NO_CHANGE:  # already at 0: audit the hold itself
                    w = decisions[0].new_weights
                    txlog.audit(region, ChangeKind.MAINTENANCE.value, w, w, f"maintenance: {reason}", None)

        self._change(decide, None, after=mark)
        return decisions[0]

    def end_maintenance(self, region: str, reason: str) -> dict:
        """Bring a region back from maintenance to its recorded weight (else the topology's):
        ``{"old", "new", "changed"}``."""
        target = self.topology.region(region).traffic.weight

        def decide(weights: dict[str, int], txlog: TrafficLog) -> list[TrafficChange]:
            if region not in txlog.maintenance():
                raise MaintenanceHold(f"{region} is not drained for maintenance")
            weight = txlog.original(region) or target
            return [decide_weight(ChangeKind.MAINTENANCE_END, region, weight, weights, f"maintenance over: {reason}")]

        def release(txlog: TrafficLog) -> None:
            txlog.end_maintenance(region)
            txlog.forget_original(region)

        (change,) = self._change(decide, None, after=release).changes
        return {"old": change.old, "new": change.new, "changed": change.changed}

    def reset(self, weights: Mapping[str, int], reason: str, run_id: str | None = None) -> dict[str, int]:
        """Every region to ``weights`` and no recorded originals (drills and tests start clean)."""

        def decide(current: dict[str, int], _txlog: TrafficLog) -> list[TrafficChange]:
            out, now = [], dict(current)
            # positive weights first, so that no intermediate step leaves every region at 0
            for region, weight in sorted(weights.items(), key=lambda item: item[1] == 0):
                out.append(decide_weight(ChangeKind.RESET, region, weight, now, reason))
                now = out[-1].new
            return out

        def forget_all(txlog: TrafficLog) -> None:
            for region in self.topology.region_names:
                txlog.forget_original(region)
                txlog.end_maintenance(region)

        return self._change(decide, run_id, after=forget_all).after

    # --- reads --------------------------------------------------------------------------------
    def weights(self) -> dict[str, int]:
        return self.backend.get_weights()

    def original_weights(self) -> dict[str, int]:
        return self.state.original_weights()
