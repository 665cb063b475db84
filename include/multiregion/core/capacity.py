"""Survivor capacity during a failover (pure: decisions only, applied by the DAGs).

When a region is drained its traffic share moves to the survivors. Each survivor must keep at
least the replicas per traffic share it had before, so it needs
``ceil(replicas * new_share / old_share)`` replicas, clamped to ``[min_replicas, max_replicas]``.
A failover never scales a region down: extra replicas are left for a later, calmer decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from multiregion.core.topology import Topology
from multiregion.core.traffic_policy import validate_weights


class ReplicaLimits(NamedTuple):
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class ScaleStep:
    region: str
    current: int
    target: int
    needed: int | None  # the unclamped requirement (None when the region takes no traffic)
    capped: bool  # needed more than max_replicas allows: the DAG should alert
    reason: str

    @property
    def changed(self) -> bool:
        return self.target != self.current


@dataclass(frozen=True)
class CapacityPlan:
    steps: tuple[ScaleStep, ...]

    @property
    def changes(self) -> dict[str, int]:
        """Region -> replicas to scale to, only for regions that must change."""
        return {s.region: s.target for s in self.steps if s.changed}

    @property
    def capped(self) -> list[str]:
        return [s.region for s in self.steps if s.capped]

    def step(self, region: str) -> ScaleStep:
        return next(s for s in self.steps if s.region == region)


def limits_for(topology: Topology) -> dict[str, ReplicaLimits]:
    return {r.name: ReplicaLimits(r.kubernetes.min_replicas, r.kubernetes.max_replicas) for r in topology.regions}


def plan_capacity(
    replicas: Mapping[str, int],
    old_weights: Mapping[str, int],
    new_weights: Mapping[str, int],
    limits: Mapping[str, ReplicaLimits],
) -> CapacityPlan:
    """Replicas each survivor (new weight > 0) needs after the weights change from old to new.

    ``replicas`` holds the current spec replicas of every survivor; a drained region may be
    missing (its cluster may be unreachable). Regions in ``replicas`` that take no traffic
    afterwards are reported unchanged (never scaled down during a failover).
    """
    validate_weights(dict(old_weights))
    validate_weights(dict(new_weights))
    old_total, new_total = sum(old_weights.values()), sum(new_weights.values())
    survivors = [r for r, w in new_weights.items() if w > 0]
    missing = [r for r in survivors if r not in replicas or r not in limits]
    if missing:
        raise ValueError(f"current replicas and limits are needed for every survivor; missing for {missing}")
    for region, count in replicas.items():
        if count < 0:
            raise ValueError(f"replicas of {region} must be >= 0, got {count}")

    # Replicas per unit of traffic share across regions that had traffic: how a region that had
    # none is sized (it has no history of its own).
    known = {r: n for r, n in replicas.items() if old_weights.get(r, 0) > 0}
    known_share = Fraction(sum(old_weights[r] for r in known), old_total)
    density = Fraction(sum(known.values())) / known_share if known else None

    steps = []
    for region in sorted(replicas.keys() | set(survivors)):
        current = replicas[region]
        new_w = new_weights.get(region, 0)
        if new_w == 0:
            steps.append(ScaleStep(region, current, current, None, False, "no traffic after the change: left as is"))
            continue
        new_share = Fraction(new_w, new_total)
        old_w = old_weights.get(region, 0)
        if old_w > 0:
            needed = math.ceil(current * new_share / Fraction(old_w, old_total))
            why = f"share {_pct(Fraction(old_w, old_total))} -> {_pct(new_share)}: needs {needed}"
        elif density is not None:
            needed = math.ceil(density * new_share)
            why = f"had no traffic; fleet density for {_pct(new_share)} needs {needed}"
        else:
            needed = limits[region].max_replicas
            why = "no region had both traffic and known replicas: sized to max_replicas"
        steps.append(_clamp(region, current, needed, limits[region], why))
    return CapacityPlan(tuple(steps))


def _clamp(region: str, current: int, needed: int, limits: ReplicaLimits, why: str) -> ScaleStep:
    lo, hi = limits
    bounded = min(max(needed, lo), hi)
    capped = needed > hi
    notes = []
    if needed < lo:
        notes.append(f"raised to min_replicas {lo}")
    if capped:
        notes.append(f"capped at max_replicas {hi}")
    target = max(current, bounded)
    if target == current and bounded < current:
        notes.append(f"keeps {current} (never scaled down during failover)")
    elif target == current:
        notes.append("already enough")
    else:
        notes.append(f"scale {current} -> {target}")
    return ScaleStep(region, current, target, needed, capped, f"{why}; {'; '.join(notes)}")


def _pct(share: Fraction) -> str:
    return f"{float(share) * 100:.1f}%"
