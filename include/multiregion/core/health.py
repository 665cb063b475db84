"""Region health evaluation with thresholds and hysteresis (pure: no I/O, time passed in).

A region turns UNHEALTHY after ``failure_threshold`` consecutive failed probes and HEALTHY
again only after ``success_threshold`` consecutive good ones. A probe fails on a transport
error, a non-2xx status, a latency above ``max_latency_s`` or an error rate above
``max_error_rate``. A region flapping faster than the thresholds therefore never changes state.

When probed from several vantage points, one round's probes are combined first: the round fails
only when at least ``quorum`` of them failed (a broken path at one vantage point drains nothing),
and its latency is the median of the good ones.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from enum import StrEnum


class HealthState(StrEnum):
    UNKNOWN = "unknown"  # not enough probes yet
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class HealthPolicy:
    failure_threshold: int = 3
    success_threshold: int = 3
    probe_timeout_s: float = 2.0
    max_latency_s: float = 1.0
    max_error_rate: float | None = None  # e.g. 0.05 from a Prometheus query; None: not checked

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.success_threshold < 1:
            raise ValueError("thresholds must be >= 1")
        if self.probe_timeout_s <= 0 or self.max_latency_s <= 0:
            raise ValueError("timeouts must be > 0")


@dataclass(frozen=True)
class Probe:
    region: str
    at: float  # epoch seconds
    status_code: int | None  # None: no HTTP answer (refused, timeout)
    latency_s: float | None
    error: str | None = None
    error_rate: float | None = None


def probe_failure(probe: Probe, policy: HealthPolicy) -> str | None:
    """Why this probe counts as failed, or None if it is good."""
    if probe.error or probe.status_code is None:
        return probe.error or "no answer"
    if not 200 <= probe.status_code < 300:
        return f"HTTP {probe.status_code}"
    if probe.latency_s is not None and probe.latency_s > policy.max_latency_s:
        return f"latency {probe.latency_s:.3f}s > {policy.max_latency_s}s"
    if policy.max_error_rate is not None and probe.error_rate is not None and probe.error_rate > policy.max_error_rate:
        return f"error rate {probe.error_rate:.3f} > {policy.max_error_rate}"
    return None


def combine_vantages(probes: dict[str, Probe], quorum: int, policy: HealthPolicy) -> tuple[Probe, dict[str, str]]:
    """One region's round from its vantage points' probes; also {vantage: why} of those that failed."""
    if not probes or not 1 <= quorum <= len(probes):
        raise ValueError(f"quorum {quorum} needs between 1 and {len(probes)} vantage probes")
    failed = {v: why for v, p in sorted(probes.items()) if (why := probe_failure(p, policy))}
    if len(probes) == 1:  # one place: its probe as it is
        return next(iter(probes.values())), failed
    region = next(iter(probes.values())).region
    at = max(p.at for p in probes.values())
    if len(failed) >= quorum:
        reasons = "; ".join(f"{v}: {why}" for v, why in failed.items())
        return Probe(region, at, None, None, f"{len(failed)}/{len(probes)} vantage points failed ({reasons})"), failed
    latencies = [p.latency_s for v, p in probes.items() if v not in failed and p.latency_s is not None]
    return Probe(region, at, 200, statistics.median(latencies) if latencies else None), failed


@dataclass(frozen=True)
class RegionHealth:
    region: str
    state: HealthState = HealthState.UNKNOWN
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    changed_at: float | None = None
    last_probe_at: float | None = None
    last_reason: str | None = None


def evaluate(current: RegionHealth, probe: Probe, policy: HealthPolicy) -> RegionHealth:
    """Fold one probe into the region's health."""
    if probe.region != current.region:
        raise ValueError(f"probe of {probe.region} given to {current.region}")
    if current.last_probe_at is not None and probe.at < current.last_probe_at:
        return current  # out-of-order probe (a trigger that ran twice): ignore
    reason = probe_failure(probe, policy)
    if reason:
        failures, successes = current.consecutive_failures + 1, 0
    else:
        failures, successes = 0, current.consecutive_successes + 1
    state = current.state
    if failures >= policy.failure_threshold:
        state = HealthState.UNHEALTHY
    elif successes >= policy.success_threshold:
        state = HealthState.HEALTHY
    return replace(
        current,
        state=state,
        consecutive_failures=failures,
        consecutive_successes=successes,
        changed_at=probe.at if state != current.state else current.changed_at,
        last_probe_at=probe.at,
        last_reason=reason,
    )


def healthy_for(health: RegionHealth, now: float) -> float:
    """Seconds the region has been continuously HEALTHY (0 if it isn't)."""
    if health.state != HealthState.HEALTHY or health.changed_at is None:
        return 0.0
    return max(0.0, now - health.changed_at)
