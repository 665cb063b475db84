"""Scheduled failover drills: when one may run, which region it takes, and what it measured (pure).

A drill takes one healthy region out the way production would (its serving scaled to 0, or a
maintenance drain), lets the armed failover automation do its work, hands the region back and
lets recovery restore it. Its figures, from the moment the region went out:

- ``detection_s``: the health watcher judged it unhealthy;
- ``drain_s``: its weight reached 0; ``dns_s``: DNS stopped answering it;
- ``client_outage_s``: the drill's probe client (a DNS-following client honouring the TTL) saw
  its last failed request; ``rto_s`` is this (or ``dns_s`` if no request failed): how long users
  were hurt, compared with the objective;
- ``restoration_s``: from the hand-back until its weight was back at its original;
- ``error_rate``: failed / all requests of the probe client during the drill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_RTO_OBJECTIVE_S = 120.0


class Method(StrEnum):
    SCALE_TO_ZERO = "scale_to_zero"  # its serving Deployment to 0 replicas: the watcher must notice
    MAINTENANCE = "maintenance"  # a maintenance drain (the controller's rules), then its end


@dataclass(frozen=True)
class Conditions:
    """What must hold before a drill starts."""

    health: dict[str, str]  # region -> healthy | unhealthy | unknown
    weights: dict[str, int]
    originals: dict[str, int]  # recorded before a drain: a region not yet restored
    maintenance: set[str]
    downtime: set[str]  # regions in a scaling downtime window now
    watcher_age_s: float | None  # seconds since the health watcher last reported (None: never)
    active_runs: list[str] = field(default_factory=list)  # failover/recovery runs in progress


def refusal(c: Conditions, region: str, max_watcher_age_s: float = 30.0) -> str | None:
    """Why the drill must not start now, or None."""
    if region not in c.weights:
        return f"unknown region {region!r}"
    if c.watcher_age_s is None or c.watcher_age_s > max_watcher_age_s:
        return "failover is not armed (the health watcher is not reporting): a drill would only cause an outage"
    unhealthy = sorted(r for r, s in c.health.items() if s != "healthy")
    if unhealthy or set(c.health) != set(c.weights):
        return f"not every region is healthy ({', '.join(unhealthy) or 'some never probed'})"
    if c.maintenance:
        return f"maintenance in progress in {', '.join(sorted(c.maintenance))}"
    if c.downtime:
        return f"scaling downtime window active in {', '.join(sorted(c.downtime))}"
    drained = sorted(set(c.originals) | {r for r, w in c.weights.items() if w == 0})
    if drained:
        return f"{', '.join(drained)} not at its original weight (a failover or restoration is not finished)"
    if c.active_runs:
        return f"failover automation busy: {', '.join(c.active_runs)}"
    return None


def next_region(regions: list[str], last: str | None) -> str:
    """Drills take the regions in turn: the one after the last drilled."""
    if last not in regions:
        return regions[0]
    return regions[(regions.index(last) + 1) % len(regions)]


@dataclass(frozen=True)
class Timeline:
    started_at: float
    detected_at: float | None = None
    drained_at: float | None = None
    dns_gone_at: float | None = None
    handed_back_at: float | None = None
    restored_at: float | None = None
    requests: int = 0
    errors: int = 0
    last_error_at: float | None = None


def figures(t: Timeline, rto_objective_s: float) -> dict[str, float | bool | None]:
    def since(at: float | None, origin: float | None) -> float | None:
        return None if at is None or origin is None else round(at - origin, 2)

    outage = since(t.last_error_at, t.started_at)
    rto = outage if outage is not None else since(t.dns_gone_at, t.started_at)
    return {
        "detection_s": since(t.detected_at, t.started_at),
        "drain_s": since(t.drained_at, t.started_at),
        "dns_s": since(t.dns_gone_at, t.started_at),
        "client_outage_s": outage,
        "rto_s": rto,
        "restoration_s": since(t.restored_at, t.handed_back_at),
        "requests": t.requests,
        "errors": t.errors,
        "error_rate": round(t.errors / t.requests, 4) if t.requests else None,
        "rto_objective_s": rto_objective_s,
        "rto_met": rto is not None and rto <= rto_objective_s,
    }
