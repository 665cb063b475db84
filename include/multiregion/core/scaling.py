"""The scaling decision (pure): desired replicas of one deployment now, with the reason.

Precedence, first match wins:
1. **excluded** (``exclude`` or ``exclude-until`` in the future): the schedule leaves it alone
   (a deployment it had scaled down is restored first);
2. **grace period**: a deployment younger than it is left alone;
3. **outside downtime** (``downtime`` doesn't match, and ``uptime`` does): back to the recorded
   original (never below what it runs now: replicas a failover added stay);
4. **suspended**: while any region is unhealthy, drained or being restored, nothing is scaled
   down and nothing recorded is restored (the failover scales survivors; the schedule never fights it);
5. **downtime** (``downtime`` matches, or ``uptime`` doesn't — downtime wins on overlap): down to
   ``max(downtime_replicas, min_replicas, failover headroom)``, the original recorded first.

Failover headroom: a serving deployment in downtime keeps the replicas it needs to carry its own
traffic plus its share of the largest other region's if that region failed now (shares by traffic
weight, as ``core.capacity`` moves them), at ``requests_per_replica``. Without request rates it
can't be proven, so nothing is scaled down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from multiregion.core.health import HealthState
from multiregion.core.schedules import NEVER, Spec


class ScaleAction(StrEnum):
    SCALE_DOWN = "scale_down"  # into downtime (the original recorded first)
    SCALE_UP = "scale_up"  # still in downtime, but the headroom needs more than it runs
    RESTORE = "restore"  # back to the recorded original (record cleared)
    NONE = "none"


@dataclass(frozen=True)
class Schedule:
    uptime: Spec = field(default_factory=lambda: Spec(always=True, text="always"))
    downtime: Spec = NEVER
    downtime_replicas: int = 0
    min_replicas: int = 0
    exclude: bool = False
    exclude_until: datetime | None = None
    grace_period: timedelta = timedelta(minutes=15)
    serving: bool = True  # carries the region's traffic: failover headroom applies


@dataclass(frozen=True)
class Deployment:
    region: str
    name: str
    replicas: int  # spec replicas now
    created_at: datetime | None
    original: int | None  # the replicas recorded before the schedule scaled it down


@dataclass(frozen=True)
class Fleet:
    """What the schedule must know of every region."""

    health: Mapping[str, HealthState]
    weights: Mapping[str, int]
    restoring: frozenset[str]  # regions drained or being restored (a recorded original weight)
    rates: Mapping[str, float] | None  # requests/s per region now; None if Prometheus can't say
    requests_per_replica: float


@dataclass(frozen=True)
class Decision:
    region: str
    deployment: str
    current: int
    desired: int
    action: ScaleAction
    reason: str
    record: int | None  # the original to keep on the deployment after the change (None: no record)

    @property
    def changed(self) -> bool:
        return self.desired != self.current or self.action == ScaleAction.RESTORE


def in_downtime(schedule: Schedule, now: datetime) -> tuple[bool, str]:
    if hit := schedule.downtime.contains(now):
        return True, f"in downtime {_name(hit)}"
    if not schedule.uptime.contains(now):
        return True, f"outside uptime {schedule.uptime.text}"
    return False, "in uptime" if not schedule.uptime.always else "no downtime now"


def _name(hit: object) -> str:
    return "always" if hit is True else repr(getattr(hit, "text", hit))


def suspension(fleet: Fleet) -> str | None:
    """Why downscaling is suspended now (None: it isn't)."""
    unhealthy = sorted(r for r, s in fleet.health.items() if s != HealthState.HEALTHY)
    drained = sorted(r for r, w in fleet.weights.items() if w == 0)
    parts = []
    if unhealthy:
        parts.append(f"not healthy: {unhealthy}")
    if drained:
        parts.append(f"drained: {drained}")
    if fleet.restoring:
        parts.append(f"failover/restoration in progress: {sorted(fleet.restoring)}")
    return "; ".join(parts) or None


def headroom(region: str, fleet: Fleet) -> tuple[int, str] | None:
    """Replicas ``region`` needs to absorb its share of the largest other region (None: unknown)."""
    if fleet.rates is None or region not in fleet.rates:
        return None
    others = {r: rate for r, rate in fleet.rates.items() if r != region}
    own = fleet.rates[region]
    if not others:
        return math.ceil(own / fleet.requests_per_replica), f"own {own:.1f} req/s"
    largest = max(others, key=lambda r: (others[r], r))
    remaining = sum(w for r, w in fleet.weights.items() if r != largest)
    share = fleet.weights.get(region, 0) / remaining if remaining else 1.0
    needed_rps = own + others[largest] * share
    replicas = math.ceil(needed_rps / fleet.requests_per_replica - 1e-9)
    return replicas, (
        f"headroom: own {own:.1f} + {share:.0%} of {largest}'s {others[largest]:.1f} req/s = "
        f"{needed_rps:.1f} req/s at {fleet.requests_per_replica:g}/replica"
    )


def decide(schedule: Schedule, dep: Deployment, fleet: Fleet, now: datetime) -> Decision:
    """Desired replicas of ``dep`` at ``now`` (see the module's precedence)."""
    current, original = dep.replicas, dep.original

    def out(desired: int, action: ScaleAction, reason: str, record: int | None) -> Decision:
        return Decision(dep.region, dep.name, current, desired, action, reason, record)

    def restore(why: str) -> Decision:
        if original is None:
            return out(current, ScaleAction.NONE, why, None)
        desired = max(original, current)  # replicas added meanwhile (a failover) are kept
        return out(desired, ScaleAction.RESTORE, f"{why}: restore the recorded {original}", None)

    if schedule.exclude or (schedule.exclude_until is not None and now < schedule.exclude_until):
        until = f" until {schedule.exclude_until.isoformat()}" if schedule.exclude_until else ""
        return restore(f"excluded{until}")
    if dep.created_at is not None and now - dep.created_at < schedule.grace_period:
        return out(current, ScaleAction.NONE, f"in its grace period ({schedule.grace_period})", original)
    down, why = in_downtime(schedule, now)
    if not down:
        return restore(why)
    if blocked := suspension(fleet):
        return out(current, ScaleAction.NONE, f"{why}, but downscaling is suspended ({blocked})", original)
    target, notes = max(schedule.downtime_replicas, schedule.min_replicas), []
    if schedule.serving:
        room = headroom(dep.region, fleet)
        if room is None:
            return out(current, ScaleAction.NONE, f"{why}, but request rates are unknown: headroom unproven", original)
        if room[0] > target:
            target, notes = room[0], [room[1]]
    record = original if original is not None else current
    if target < current:
        return out(target, ScaleAction.SCALE_DOWN, "; ".join([f"{why}: down to {target}", *notes]), record)
    if target > current and original is not None:
        return out(min(target, original), ScaleAction.SCALE_UP, "; ".join([f"{why}: up to {target}", *notes]), record)
    return out(current, ScaleAction.NONE, "; ".join([f"{why}: already at {current}", *notes]), original)


def preview(
    schedule: Schedule, dep: Deployment, fleet: Fleet, start: datetime, days: int = 7, step: timedelta | None = None
) -> list[tuple[datetime, int, str]]:
    """Desired replicas from ``start`` over ``days`` (every ``step``, default 15 minutes), carrying
    the record from one step to the next as the DAG would, on a fleet that stays as given. The
    deployment is taken as older than its grace period. Only the changes are returned (the first
    step always)."""
    step = step or timedelta(minutes=15)
    current, original, out = dep.replicas, dep.original, []
    at, end = start, start + timedelta(days=days)
    old = replace_created(dep, start - schedule.grace_period - timedelta(days=1))
    while at < end:
        d = decide(schedule, Deployment(old.region, old.name, current, old.created_at, original), fleet, at)
        if not out or d.desired != out[-1][1]:
            out.append((at, d.desired, d.reason))
        current, original = d.desired, d.record
        at += step
    return out


def replace_created(dep: Deployment, created_at: datetime) -> Deployment:
    return Deployment(dep.region, dep.name, dep.replicas, created_at, dep.original)
