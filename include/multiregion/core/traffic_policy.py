"""Traffic safety rules and staged restoration (pure: decisions only; ``traffic.controller``
applies them, under its lock, and audits them).

- Never drain the last healthy region: if draining would leave no healthy region with weight,
  change nothing and alert (fail open, as Route53 does when every health check fails).
- A region's weight before it first goes to 0 is recorded; restoration reads that record
  (``records_original``).
- Restoration goes up in stages (10 % → 25 % → 50 % → 100 % of the recorded weight), each held
  and gated on health; a regression rolls the region back to 0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from multiregion.core.health import HealthState

MAX_WEIGHT = 255  # Route53's limit; the strictest of the backends
DEFAULT_STEPS = (10, 25, 50, 100)


class ChangeKind(StrEnum):
    """Why a weight changed (the audit's ``action``)."""

    DRAIN = "drain"  # failover: the region turned unhealthy
    RESTORE_STEP = "restore_step"  # one stage of a staged restoration
    ROLLBACK = "rollback"  # a restoration step regressed: back to 0
    SET = "set"  # by hand: any weight an operator sets
    RESET = "reset"  # every region back to given weights (drills, tests)
    MAINTENANCE = "maintenance"  # an operator drained the region for maintenance
    MAINTENANCE_END = "maintenance_end"  # an operator brought it back


class MaintenanceHold(ValueError):
    """A region drained for maintenance gets traffic back only when an operator ends it."""


@dataclass(frozen=True)
class TrafficChange:
    """One decided change of the weights, as audited."""

    kind: ChangeKind
    region: str
    old: dict[str, int]
    new: dict[str, int]
    reason: str

    @property
    def changed(self) -> bool:
        return self.old != self.new

    @property
    def records_original(self) -> bool:
        """The weight a region had before it went to 0 is its restoration target, recorded on the
        change that takes it there. Not on a rollback: the record of the first drain stands (the
        store keeps the first record anyway; a region restored without one must not get its
        step weight recorded as its target)."""
        went_to_zero = self.old.get(self.region, 0) > 0 and self.new.get(self.region, 0) == 0
        return went_to_zero and self.kind != ChangeKind.ROLLBACK


def decide_weight(
    kind: ChangeKind,
    region: str,
    weight: int,
    weights: Mapping[str, int],
    reason: str,
    maintenance: Collection[str] = (),
) -> TrafficChange:
    """Set one region's weight, the others unchanged (validated: 0..255, one region keeps weight).
    No restoration step or hand-set weight raises a region drained for maintenance."""
    if region not in weights:
        raise ValueError(f"unknown region {region!r}; regions: {sorted(weights)}")
    raises = weight > weights[region] and kind not in (ChangeKind.MAINTENANCE_END, ChangeKind.RESET)
    if region in maintenance and raises:
        raise MaintenanceHold(f"{region} is drained for maintenance: an operator must bring it back first")
    new = {**weights, region: weight}
    validate_weights(new)
    return TrafficChange(kind, region, dict(weights), new, reason)


class Action(StrEnum):
    DRAIN = "drain"
    NO_CHANGE = "no_change"
    REFUSE_LAST_HEALTHY = "refuse_last_healthy"
    REFUSE_ALL_UNHEALTHY = "refuse_all_unhealthy"


def validate_weights(weights: Mapping[str, int]) -> None:
    for region, weight in weights.items():
        if not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            raise ValueError(f"weight of {region} must be an integer in 0..{MAX_WEIGHT}, got {weight!r}")
    if weights and sum(weights.values()) == 0:
        raise ValueError("at least one region must keep a positive weight")


@dataclass(frozen=True)
class DrainDecision:
    action: Action
    region: str
    new_weights: dict[str, int]
    reason: str
    old_weights: dict[str, int] | None = None

    @property
    def change(self) -> TrafficChange | None:
        """The weight change this decision makes (None when it changes nothing)."""
        if self.action != Action.DRAIN:
            return None
        return TrafficChange(ChangeKind.DRAIN, self.region, dict(self.old_weights or {}), self.new_weights, self.reason)


def decide_drain(region: str, weights: Mapping[str, int], health: Mapping[str, HealthState]) -> DrainDecision:
    """What to do when ``region`` turned unhealthy, given current weights and every region's health."""
    current = dict(weights)
    if current.get(region, 0) == 0:
        return DrainDecision(Action.NO_CHANGE, region, current, f"{region} already has weight 0")
    if all(state == HealthState.UNHEALTHY for state in health.values()):
        return DrainDecision(
            Action.REFUSE_ALL_UNHEALTHY, region, current, "every region looks unhealthy: failing open, no change"
        )
    survivors = {r: w for r, w in current.items() if r != region and w > 0 and health.get(r) == HealthState.HEALTHY}
    if not survivors:
        return DrainDecision(
            Action.REFUSE_LAST_HEALTHY,
            region,
            current,
            f"{region} is the last healthy region with traffic: not drained",
        )
    new = {**current, region: 0}
    validate_weights(new)
    return DrainDecision(Action.DRAIN, region, new, f"{region} unhealthy; traffic to {sorted(survivors)}", current)


def available(health: Mapping[str, HealthState], maintenance: Collection[str]) -> dict[str, HealthState]:
    """Health as the safety rules see it: a region in maintenance is unavailable, whatever its probes say."""
    return {r: HealthState.UNHEALTHY if r in maintenance else state for r, state in health.items()}


def decide_maintenance_drain(
    region: str,
    weights: Mapping[str, int],
    health: Mapping[str, HealthState],
    maintenance: Collection[str],
    reason: str,
) -> DrainDecision:
    """A maintenance drain follows the failover's rules: never the last healthy region with traffic
    (regions already in maintenance count as unavailable). A region already at 0 is only marked."""
    if region not in weights:
        raise ValueError(f"unknown region {region!r}; regions: {sorted(weights)}")
    others = available(health, maintenance)
    decision = decide_drain(region, weights, {**others, region: HealthState.HEALTHY})
    if decision.action != Action.DRAIN:
        return decision
    return DrainDecision(Action.DRAIN, region, decision.new_weights, f"maintenance: {reason}", decision.old_weights)


def restoration_weights(original: int, steps: Sequence[int] = DEFAULT_STEPS) -> list[int]:
    """The weights to step through to bring a region back to ``original`` (each >= 1, ending at it)."""
    if not steps or sorted(steps) != list(steps) or steps[-1] != 100 or steps[0] <= 0:
        raise ValueError(f"steps must be increasing percentages ending at 100, got {list(steps)}")
    if original <= 0:
        return []
    out: list[int] = []
    for pct in steps:
        weight = max(1, round(original * pct / 100))
        if not out or weight > out[-1]:
            out.append(weight)
    return out


class StepVerdict(StrEnum):
    ADVANCE = "advance"
    HOLD = "hold"
    ROLLBACK = "rollback"
    DONE = "done"


def judge_step(
    step_index: int,
    steps: Sequence[int],
    held_s: float,
    hold_s: float,
    region_state: HealthState,
    error_rate: float | None,
    max_error_rate: float,
) -> StepVerdict:
    """Gate between restoration steps: roll back on any regression, advance after the hold."""
    if region_state == HealthState.UNHEALTHY or (error_rate is not None and error_rate > max_error_rate):
        return StepVerdict.ROLLBACK
    if held_s < hold_s:
        return StepVerdict.HOLD
    return StepVerdict.DONE if step_index >= len(steps) - 1 else StepVerdict.ADVANCE


def plan_failover(weights: Mapping[str, int], health: Mapping[str, HealthState]) -> list[DrainDecision]:
    """Every unhealthy region that still has traffic, drained one after the other (by name, so
    two failures at once give the same result as one after the other): each later decision sees
    the weights the earlier ones left, so the last healthy region is never drained."""
    current = dict(weights)
    decisions = []
    for region in sorted(r for r, state in health.items() if state == HealthState.UNHEALTHY):
        if current.get(region, 0) == 0:
            continue
        decision = decide_drain(region, current, health)
        decisions.append(decision)
        current = decision.new_weights
    return decisions
