"""RegionHealthWatchTrigger against the world's serving endpoints: a stopped region turns unhealthy."""

from __future__ import annotations

import asyncio

import pytest
from localworld import controller

from multiregion.core.health import HealthState
from multiregion.state.postgres import StateStore
from multiregion.triggers.health import RegionHealthWatchTrigger

pytestmark = pytest.mark.world
POLICY = {"failure_threshold": 2, "success_threshold": 2, "probe_timeout_s": 1.0}


def _events(trigger: RegionHealthWatchTrigger) -> list[dict]:
    async def collect():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def _endpoints(world) -> dict[str, str]:
    return {r.name: r.serving.endpoints[0] for r in world.topology.regions}


def test_healthy_world_yields_no_event_and_persists_health(world):
    events = _events(RegionHealthWatchTrigger(_endpoints(world), 0.2, POLICY, "mr_state", max_probes=3))
    assert events == []
    stored = StateStore().load_health()
    assert {r: stored[r].state for r in world.topology.region_names} == dict.fromkeys(
        world.topology.region_names, HealthState.HEALTHY
    )


def test_stopped_region_turns_unhealthy_then_healthy(world):
    endpoints = _endpoints(world)
    controller.stop_service(world, "serving-ap-south-1")
    try:
        down = _events(RegionHealthWatchTrigger(endpoints, 0.2, POLICY, "mr_state", max_probes=3))
    finally:
        controller.start_service(world, "serving-ap-south-1")
    assert [(e["region"], e["state"]) for e in down] == [("ap-south-1", "unhealthy")]
    assert down[0]["reason"].startswith("ConnectError") and down[0]["health"]["eu-west-1"] == "healthy"
    assert StateStore().load_health()["ap-south-1"].state == HealthState.UNHEALTHY

    up = _events(RegionHealthWatchTrigger(endpoints, 0.2, POLICY, "mr_state", max_probes=3))
    assert [(e["region"], e["state"], e["previous"]) for e in up] == [("ap-south-1", "healthy", "unhealthy")]


def test_two_copies_at_once_agree_and_never_write_an_older_probe_over_a_newer(world):
    """Triggerer failover can run the watcher twice for a while: both copies probe, both write,
    both fire. The stored health stays the newest probe's, and both events say the same."""
    from dataclasses import replace

    endpoints = _endpoints(world)

    async def collect(trigger: RegionHealthWatchTrigger) -> list[dict]:
        return [event.payload async for event in trigger.run()]

    async def both():
        copies = [RegionHealthWatchTrigger(endpoints, 0.2, POLICY, "mr_state", max_probes=4) for _ in range(2)]
        return await asyncio.gather(*(collect(c) for c in copies))

    controller.stop_service(world, "serving-ap-south-1")
    try:
        first, second = asyncio.run(both())
    finally:
        controller.start_service(world, "serving-ap-south-1")
    assert [(e["region"], e["state"]) for e in first] == [("ap-south-1", "unhealthy")]
    assert [(e["region"], e["state"]) for e in second] == [("ap-south-1", "unhealthy")]
    store = StateStore()
    stored = store.load_health()["ap-south-1"]
    assert stored.state == HealthState.UNHEALTHY
    # a copy that lags behind (an older probe) cannot overwrite what the other wrote
    store.save_health(replace(stored, state=HealthState.HEALTHY, last_probe_at=stored.last_probe_at - 5))
    assert store.load_health()["ap-south-1"].state == HealthState.UNHEALTHY
    _events(RegionHealthWatchTrigger(endpoints, 0.2, POLICY, "mr_state", max_probes=3))  # healthy again
    assert store.load_health()["ap-south-1"].state == HealthState.HEALTHY


def test_serialize_round_trip():
    trigger = RegionHealthWatchTrigger({"a": "http://127.0.0.1:1"}, 1.5, POLICY, None, 4, "http://127.0.0.1:9")
    path, kwargs = trigger.serialize()
    assert path == "multiregion.triggers.health.RegionHealthWatchTrigger"
    assert RegionHealthWatchTrigger(**kwargs).serialize() == (path, kwargs)
