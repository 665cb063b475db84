"""How the armed health watcher judges regions, and where DNS sends each location's clients.

- From more than one place: one vantage point's path cut (nftables drops its loopback source
  address) drains nothing and alerts HealthVantageDissents; a region really down is still drained.
- The nearest healthy region: real DNS queries from each location's loopback subnet get its
  nearest region, and the next nearest once it is drained (tests/e2e/test_failover_drill.py sees
  Europe's clients moved back after the restoration).
- Slow, not dead: a region answering over the latency limit (a delaying proxy in front of its
  serving) is drained by the latency rule; one just under the limit never is.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from localworld import drills, faults

from multiregion.monitoring.alertmanager import active_alerts
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import backend_for

pytestmark = [pytest.mark.world, pytest.mark.airflow]
# How regions are restored is not under test here: one step, no restart (the test brings serving back)
FAST = {"hold_s": 2, "step_hold_s": 2, "resync": False, "restart": False, "steps": [100]}
CLIENTS = {"us-west-2": "127.1.7.7", "eu-west-1": "127.2.7.7", "ap-south-1": "127.3.7.7"}  # their subnets


def _dissent(world) -> dict[str, float]:
    text = httpx.get(f"{world.topology.monitoring.pushgateway_url}/metrics", timeout=10).text
    pattern = r'^multiregion_health_vantage_dissent\{.*vantage="([^"]+)".*\} (\S+)$'
    return {v: float(x) for v, x in re.findall(pattern, text, re.MULTILINE)}


def _drains_since(since: float) -> list[dict]:
    return [a for a in reversed(StateStore().audit(50)) if a["at"].timestamp() >= since and a["action"] == "drain"]


def _probed_at(region: str) -> float:
    return StateStore().load_health()[region].last_probe_at or 0.0


def _serving_ports(world) -> list[int]:
    return [httpx.URL(r.serving.endpoints[0]).port for r in world.topology.regions]


def _answers(world) -> dict[str, set[str]]:
    """Regions DNS answers to clients in each location's subnet (the world's PowerDNS)."""
    backend = backend_for(world.topology)
    return {near: backend.resolve(30, source=src) for near, src in CLIENTS.items()}


def test_cut_vantage_point_dead_region_and_slow_region(world, armed):
    """One armed session (a restoration per region is the slow part): a cut vantage point drains
    nothing and alerts; a dead region is still drained and its clients go to their next nearest; a
    region just under the latency limit stays, over it is drained by the latency rule."""
    from multiregion.dagconfig import HEALTH_POLICY

    arm, started = armed
    arm(FAST)
    weights = backend_for(world.topology).get_weights()
    assert _answers(world) == {region: {region} for region in CLIENTS}  # each location: its nearest
    vantage = world.topology.health.vantages[-1]
    with faults.blocked_source(str(vantage.source_address), _serving_ports(world)):
        drills.wait_for(
            f"{vantage.name} dissenting on every region",
            lambda: _dissent(world).get(vantage.name) == len(world.topology.regions),
            60,
            1,
        )
        alert = drills.wait_for(
            "HealthVantageDissents delivered",
            lambda: [
                a
                for a in active_alerts(world.topology.monitoring.alertmanager_url, "HealthVantageDissents")
                if a["labels"]["vantage"] == vantage.name and a["status"]["state"] == "active"
            ],
            90,
            2,
        )
        assert "its network path is suspect" in alert[0]["annotations"]["summary"]
        assert backend_for(world.topology).get_weights() == weights and not _drains_since(started)

        at = drills.take_down(world, "ap-south-1")  # really down: seen by every vantage point
        took = drills.time_to_drain(world, "ap-south-1", at)
        print(f"with {vantage.name} cut off, ap-south-1 down -> weight 0 after {took['weight_zero_s']}s")
    assert [d["region"] for d in _drains_since(started)] == ["ap-south-1"]
    assert "vantage points failed" in StateStore().load_health()["ap-south-1"].last_reason
    # Asia's clients now get their next nearest region; the others keep theirs
    assert _answers(world) == {"us-west-2": {"us-west-2"}, "eu-west-1": {"eu-west-1"}, "ap-south-1": {"eu-west-1"}}

    limit = HEALTH_POLICY["max_latency_s"]
    with faults.slow_serving(world, "eu-west-1", delay=0.8 * limit) as proxy:
        t0 = time.monotonic()
        resp = httpx.get(f"{world.topology.region('eu-west-1').serving.endpoints[0]}/health", timeout=5)
        assert resp.status_code == 200 and time.monotonic() - t0 >= 0.8 * limit
        probing = time.time()  # the watcher's judgements of ~12 rounds just under the limit
        drills.wait_for("12 s of probes judged", lambda: _probed_at("eu-west-1") >= probing + 12, 60, 1)
        assert [d["region"] for d in _drains_since(started)] == ["ap-south-1"]
        assert StateStore().load_health()["eu-west-1"].state == "healthy"

        proxy.delay = 1.3 * limit
        took = drills.time_to_drain(world, "eu-west-1", time.time())
        print(f"eu-west-1 slow ({proxy.delay:.1f}s) -> weight 0 after {took['weight_zero_s']}s")
        assert "latency" in StateStore().load_health()["eu-west-1"].last_reason
    assert [d["region"] for d in _drains_since(started)] == ["ap-south-1", "eu-west-1"]
