"""Operators for traffic changes: one interface (per-region weights) whatever the backend is
(Route53, Cloudflare, PowerDNS — chosen by the topology). Every change goes through
``traffic.controller.TrafficController``: serialized, decided on one read, audited, idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from multiregion.core.traffic_policy import DEFAULT_STEPS, ChangeKind, MaintenanceHold, restoration_weights


def _trigger_payloads(context) -> list[dict]:
    """The health-watch events that started this run (several may have been merged into it)."""
    events = context.get("triggering_asset_events") or {}
    return [e.extra.get("payload", {}) for evs in events.values() for e in evs if (e.extra or {}).get("from_trigger")]


class DrainUnhealthyRegionsOperator(BaseOperator):
    """Drain every unhealthy region that still has traffic (never the last healthy one). Returns
    what was drained and refused; the DAG's next task scales the survivors (after the drain)."""

    def execute(self, context) -> dict[str, Any]:
        from multiregion.ops.failover import drain_unhealthy

        return drain_unhealthy(context["run_id"], _trigger_payloads(context))


class SetRegionWeightOperator(BaseOperator):
    """Set one region's weight by hand (e.g. a planned maintenance drain to 0, which records the
    weight to restore), with the audit trail."""

    template_fields = ("region", "weight", "reason")

    def __init__(self, *, region: str, weight: int, reason: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.region, self.weight, self.reason = region, weight, reason

    def execute(self, context) -> dict[str, Any]:
        from multiregion.ops.recovery import set_region_weight

        return set_region_weight(self.region, int(self.weight), ChangeKind.SET, self.reason, context["run_id"])


class StagedRestoreOperator(BaseOperator):
    """Bring a recovered region back to its recorded weight in steps (default 10/25/50/100 %).

    Each step is held for ``step_hold_s`` in the triggerer (no worker held), gated on the region's
    health and Prometheus error rate; a regression rolls the region back to 0, alerts and fails.
    """

    template_fields = ("region", "steps", "step_hold_s", "max_error_rate")

    def __init__(
        self,
        *,
        region: str,
        steps: Sequence[int] = DEFAULT_STEPS,
        step_hold_s: float = 30.0,
        max_error_rate: float = 0.05,
        probe_interval_s: float = 1.0,
        health_policy: dict[str, Any] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.region, self.steps, self.step_hold_s = region, steps, step_hold_s
        self.max_error_rate, self.probe_interval_s = max_error_rate, probe_interval_s
        self.health_policy = health_policy or {}

    def execute(self, context) -> Any:
        from multiregion.ops.recovery import prepare

        info = prepare(self.region)
        if info.get("maintenance"):
            self.log.info("%s is drained for maintenance: not restored (an operator brings it back)", self.region)
            return {"region": self.region, "steps": [], "held": "maintenance"}
        weights = restoration_weights(info["original_weight"], [int(s) for s in self.steps])
        self.log.info("restoring %s to %s in steps %s", self.region, info["original_weight"], weights)
        if not weights:
            return {"region": self.region, "steps": []}
        return self._step(context, info, weights, 0)

    def _step(self, context, info: dict, weights: list[int], index: int) -> Any:
        from multiregion.ops.recovery import set_region_weight
        from multiregion.triggers.hold import RegionHoldTrigger

        pct = f"step {index + 1}/{len(weights)}"
        try:
            change = set_region_weight(
                self.region, weights[index], ChangeKind.RESTORE_STEP, f"restoration {pct}", context["run_id"]
            )
        except MaintenanceHold as exc:  # an operator drained it for maintenance mid-restoration
            self.log.info("restoration of %s stopped at %s: %s", self.region, pct, exc)
            return {"region": self.region, "steps": weights[:index], "held": "maintenance"}
        self.log.info("%s: weight %s (%s); holding %ss", self.region, weights[index], pct, self.step_hold_s)
        self.defer(
            trigger=RegionHoldTrigger(
                self.region,
                info["endpoint"],
                "gate",
                float(self.step_hold_s),
                interval=self.probe_interval_s,
                policy=self.health_policy,
                prometheus_url=info["prometheus_url"],
                max_error_rate=float(self.max_error_rate),
            ),
            method_name="execute_complete",
            kwargs={"info": info, "weights": weights, "index": index, "after": change["new"]},
        )

    def execute_complete(
        self, context, event: dict, info: dict, weights: list[int], index: int, after: dict | None = None
    ) -> Any:
        """A step's hold ended: roll back on a regression, else the next step, or finish."""
        from multiregion.ops.recovery import alert_rollback, finish_restore, set_region_weight

        run_id = context["run_id"]
        if event["status"] != "ok":
            reason = f"{event['status']}: {event.get('reason')}"
            why = f"regression at weight {weights[index]}: {reason}"
            set_region_weight(self.region, 0, ChangeKind.ROLLBACK, why, run_id)
            alert_rollback(self.region, weights[index], reason, run_id)
            raise AirflowException(f"{self.region} regressed at weight {weights[index]} ({reason}); rolled back to 0")
        if index + 1 < len(weights):
            return self._step(context, info, weights, index + 1)
        finish_restore(self.region, after or {self.region: weights[-1]}, run_id)
        self.log.info("%s restored to weight %s", self.region, weights[-1])
        return {"region": self.region, "steps": weights}
