"""RegionHealthWatchTrigger: probes every region's serving endpoints from the triggerer.

An event trigger (Airflow 3 event-driven scheduling, used through an ``AssetWatcher``): it never
holds a worker, probes each endpoint every ``interval`` seconds (HTTP status and latency, with a
per-probe timeout) from every vantage point (a source address each), combines each region's probes
by quorum, folds them into each region's health with the core evaluator
(thresholds + hysteresis), persists the health outside Airflow's metadata database, and yields
an event only when a region's state changes — that event starts the failover or recovery.

It writes from the triggerer, safely when two copies run at once (a triggerer failover hands the
trigger over while the old triggerer still runs it): each write is one region's row, upserted
only if its probe is newer than the stored one, so the newest observation wins and a lagging copy
never rolls it back. Both copies fire the same event; the failover DAG reconciles from the stored
health and its drains are idempotent, so a duplicate event changes nothing
(tests/triggers/test_region_health_trigger.py runs two copies).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import asdict
from typing import Any

import httpx
from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from multiregion.core.health import HealthPolicy, HealthState, RegionHealth, combine_vantages, evaluate, probe_failure
from multiregion.monitoring.pushgateway import PushError, push_by_label
from multiregion.serving.health_client import probe_endpoint
from multiregion.state.postgres import StateStore

log = logging.getLogger(__name__)
PERSIST_EVERY_S = 10.0  # besides every state change: keeps "last probed" fresh for the DAGs
HEALTH_VALUE = {HealthState.HEALTHY: 1.0, HealthState.UNHEALTHY: 0.0, HealthState.UNKNOWN: -1.0}


class RegionHealthWatchTrigger(BaseEventTrigger):
    def __init__(
        self,
        endpoints: dict[str, str],
        interval: float = 2.0,
        policy: dict[str, Any] | None = None,
        state_conn_id: str | None = "mr_state",
        max_probes: int | None = None,  # for tests: stop after this many rounds
        pushgateway_url: str | None = None,  # where the watcher's heartbeat and health go
        vantages: dict[str, str | None] | None = None,  # name -> source address (None: the default)
        quorum: int = 1,
    ) -> None:
        super().__init__()
        self.endpoints = endpoints
        self.interval = interval
        self.policy = policy or {}
        self.state_conn_id = state_conn_id
        self.max_probes = max_probes
        self.pushgateway_url = pushgateway_url
        self.vantages = vantages or {"central": None}
        self.quorum = quorum

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "endpoints": self.endpoints,
                "interval": self.interval,
                "policy": self.policy,
                "state_conn_id": self.state_conn_id,
                "max_probes": self.max_probes,
                "pushgateway_url": self.pushgateway_url,
                "vantages": self.vantages,
                "quorum": self.quorum,
            },
        )

    def _push(self, health: dict[str, RegionHealth], dissent: dict[str, int]) -> None:
        """The watcher's own heartbeat (a dead triggerer silently disables failover: alerted as
        HealthWatcherDown), each region's health, and per vantage point how many regions it saw
        fail that the quorum judged fine (its own path is suspect: HealthVantageDissents).
        A Pushgateway outage never stops the watch."""
        try:
            push_by_label(
                self.pushgateway_url or "",
                "health_watcher",
                "region",
                {"region_health": {r: HEALTH_VALUE[h.state] for r, h in health.items()}},
                {"health_watcher_heartbeat_timestamp_seconds": time.time()},
            )
            push_by_label(self.pushgateway_url or "", "health_vantages", "vantage", {"health_vantage_dissent": dissent})
        except PushError as exc:
            log.warning("health watcher metrics not pushed: %s", exc)

    async def _round(self, clients: dict[str, httpx.AsyncClient], policy: HealthPolicy):
        """Every region probed from every vantage point at once; combined probes and the dissent."""
        pairs = [(v, r, u) for r, u in self.endpoints.items() for v in clients]
        results = await asyncio.gather(*(probe_endpoint(clients[v], r, u) for v, r, u in pairs))
        by_region: dict[str, dict[str, Any]] = {}
        for (vantage, region, _), probe in zip(pairs, results, strict=True):
            by_region.setdefault(region, {})[vantage] = probe
        combined, dissent = [], dict.fromkeys(clients, 0)
        for probes in by_region.values():
            probe, failed = combine_vantages(probes, self.quorum, policy)
            combined.append(probe)
            if probe_failure(probe, policy) is None:
                for vantage in failed:
                    dissent[vantage] += 1
        return combined, dissent

    async def run(self) -> AsyncIterator[TriggerEvent]:
        policy = HealthPolicy(**self.policy)
        store = StateStore(self.state_conn_id) if self.state_conn_id else None
        known = await sync_to_async(store.load_health)() if store else {}
        health = {r: known.get(r, RegionHealth(r)) for r in self.endpoints}
        persisted = time.monotonic()
        rounds = 0
        dissent_before: dict[str, int] = {}
        async with AsyncExitStack() as stack:
            clients = {
                name: await stack.enter_async_context(
                    httpx.AsyncClient(
                        timeout=policy.probe_timeout_s,
                        transport=httpx.AsyncHTTPTransport(local_address=address) if address else None,
                    )
                )
                for name, address in self.vantages.items()
            }
            while self.max_probes is None or rounds < self.max_probes:
                rounds += 1
                probes, dissent = await self._round(clients, policy)
                changed = []
                for probe in probes:
                    before = health[probe.region]
                    health[probe.region] = after = evaluate(before, probe, policy)
                    if after.state != before.state:
                        changed.append((before, after))
                heartbeat = time.monotonic() - persisted > PERSIST_EVERY_S
                if store and (changed or heartbeat):
                    for h in health.values() if heartbeat else [a for _, a in changed]:
                        await sync_to_async(store.save_health)(h)
                    persisted = time.monotonic() if heartbeat else persisted
                if self.pushgateway_url and (changed or heartbeat or rounds == 1 or dissent != dissent_before):
                    await asyncio.to_thread(self._push, health, dissent)
                dissent_before = dissent
                for before, after in changed:
                    if before.state == HealthState.UNKNOWN and after.state == HealthState.HEALTHY:
                        continue  # start-up, not news
                    yield TriggerEvent(
                        {
                            "region": after.region,
                            "state": after.state.value,
                            "previous": before.state.value,
                            "reason": after.last_reason,
                            "at": after.changed_at,
                            "health": {r: h.state.value for r, h in health.items()},
                            "detail": asdict(after) | {"state": after.state.value},
                        }
                    )
                await asyncio.sleep(self.interval)
