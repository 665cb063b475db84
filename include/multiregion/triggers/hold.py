"""RegionHoldTrigger: watch one region for a while from the triggerer (no worker held).

Two uses in the recovery DAG:
- ``await_healthy``: fires once the region has been continuously HEALTHY (core evaluator:
  thresholds + hysteresis) for ``hold_s`` — the hold period before traffic returns — or on timeout;
- ``gate``: the hold of one restoration step; fires ``regression`` as soon as the region turns
  unhealthy or its Prometheus error rate exceeds the limit (core ``judge_step``), else ``ok``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from multiregion.core.health import HealthPolicy, HealthState, RegionHealth, evaluate, healthy_for
from multiregion.core.traffic_policy import StepVerdict, judge_step
from multiregion.monitoring.prometheus import PrometheusError, error_rate
from multiregion.serving.health_client import probe_endpoint

MODES = ("await_healthy", "gate")
# No event sooner than this after the trigger starts. Airflow 3.3's LocalExecutor reports the
# deferring workload as finished a few seconds after the deferral; if the trigger fires before that,
# the resumed task is already queued and the scheduler fails it ("task state changed externally").
# Traffic safety doesn't wait for it: the failover DAG drains a regressed region on its own.
MIN_FIRE_S = 8.0


class RegionHoldTrigger(BaseTrigger):
    def __init__(
        self,
        region: str,
        endpoint: str,
        mode: str,
        hold_s: float,
        interval: float = 1.0,
        policy: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        prometheus_url: str | None = None,
        max_error_rate: float | None = None,
        min_fire_s: float = MIN_FIRE_S,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.region, self.endpoint, self.mode, self.hold_s = region, endpoint, mode, hold_s
        self.interval, self.policy, self.timeout_s = interval, policy or {}, timeout_s
        self.prometheus_url, self.max_error_rate, self.min_fire_s = prometheus_url, max_error_rate, min_fire_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "region": self.region,
                "endpoint": self.endpoint,
                "mode": self.mode,
                "hold_s": self.hold_s,
                "interval": self.interval,
                "policy": self.policy,
                "timeout_s": self.timeout_s,
                "prometheus_url": self.prometheus_url,
                "max_error_rate": self.max_error_rate,
                "min_fire_s": self.min_fire_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        policy = HealthPolicy(**self.policy)
        started = time.monotonic()
        # a gated step starts from a healthy region (it passed its hold); waiting starts from nothing
        health = RegionHealth(self.region, HealthState.HEALTHY if self.mode == "gate" else HealthState.UNKNOWN)
        async with httpx.AsyncClient(timeout=policy.probe_timeout_s) as client:
            while True:
                health = evaluate(health, await probe_endpoint(client, self.region, self.endpoint), policy)
                held = time.monotonic() - started
                base = {"region": self.region, "state": health.state.value, "held_s": round(held, 1)}
                if held < self.min_fire_s:
                    pass  # judged once old enough; the probes keep folding into the health meanwhile
                elif self.mode == "await_healthy":
                    if healthy_for(health, time.time()) >= self.hold_s:
                        yield TriggerEvent({**base, "status": "healthy"})
                        return
                else:
                    rate = await self._error_rate(client)
                    verdict = judge_step(0, [100], held, self.hold_s, health.state, rate, self.max_error_rate or 1.0)
                    if verdict == StepVerdict.ROLLBACK:
                        why = health.last_reason if health.state == HealthState.UNHEALTHY else f"error rate {rate:.3f}"
                        yield TriggerEvent({**base, "status": "regression", "reason": why, "error_rate": rate})
                        return
                    if verdict != StepVerdict.HOLD:
                        yield TriggerEvent({**base, "status": "ok", "error_rate": rate})
                        return
                if self.timeout_s is not None and held > max(self.timeout_s, self.min_fire_s):
                    yield TriggerEvent({**base, "status": "timeout", "reason": health.last_reason})
                    return
                await asyncio.sleep(self.interval)

    async def _error_rate(self, client: httpx.AsyncClient) -> float | None:
        if not self.prometheus_url or self.max_error_rate is None:
            return None
        try:
            return await error_rate(client, self.prometheus_url, self.region)
        except PrometheusError as exc:  # the gate is health first: no metrics must not block a restore
            self.log.warning("error rate of %s unknown, gating on health only: %s", self.region, exc)
            return None
