"""Scale the survivors of a drain so their replicas per traffic share don't drop (Kubernetes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from multiregion.core.capacity import limits_for, plan_capacity
from multiregion.core.topology import Topology

log = logging.getLogger(__name__)


def ensure_capacity(topology: Topology, old: Mapping[str, int], new: Mapping[str, int]) -> list[dict[str, Any]]:
    """Scale up the survivors that need it before their share grows. A cluster that can't be
    reached does not block the drain (a dead region's traffic is worse than a busy survivor's):
    the error is logged and returned, and ops are alerted with the drain."""
    from multiregion.k8s import deployments

    survivors = [name for name, weight in new.items() if weight > 0]
    current, done = {}, []
    for name in survivors:
        try:
            current[name] = deployments.replicas(topology.region(name))[0]
        except Exception as exc:  # noqa: BLE001 - any cluster/connection problem: drain anyway
            log.error("capacity of %s unknown: %s: %s", name, type(exc).__name__, exc)
            done.append({"region": name, "error": str(exc)})
    if len(current) < len(survivors):
        return done
    plan = plan_capacity(current, old, new, limits_for(topology))
    for step in plan.steps:
        if not step.changed:
            continue
        try:
            deployments.scale(topology.region(step.region), step.target)
        except Exception as exc:  # noqa: BLE001 - drain anyway, reported to ops
            log.error("scaling %s to %d failed: %s", step.region, step.target, exc)
            done.append({"region": step.region, "error": str(exc)})
            continue
        log.info("%s: %d -> %d replicas (%s)", step.region, step.current, step.target, step.reason)
        done.append({"region": step.region, "from": step.current, "to": step.target, "reason": step.reason})
    for region in plan.capped:
        log.warning("%s is capped at max_replicas: %s", region, plan.step(region).reason)
    return done
