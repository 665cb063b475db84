"""Airflow's own metrics reach Prometheus (the bridge), and the webhook sink records what it is
sent (a killed region's RegionDown end to end: test_regions_browser.py)."""

from __future__ import annotations

import httpx
import pytest
from localworld import drills

from multiregion.monitoring.prometheus import instant

pytestmark = [pytest.mark.world]


def test_airflow_metrics_are_in_prometheus(world):
    url = world.topology.monitoring.prometheus_url
    for name in ("airflow_scheduler_heartbeat_total", "airflow_triggerer_heartbeat_total",
                 "airflow_dag_processor_heartbeat_total"):  # fmt: skip
        drills.wait_for(f"{name} increasing", lambda n=name: instant(url, f"rate({n}[1m]) > 0"), 90, 2)
    assert instant(url, 'up{job="airflow"} == 1')


def test_the_sink_records_a_notification_and_refuses_junk(world):
    from localworld.alert_sink import fetch_received

    note = {"receiver": "ops", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "SinkTest"},
            "annotations": {}, "startsAt": "2026-12-01T00:00:00Z"}]}  # fmt: skip
    assert httpx.post(f"{world.alert_sink_url}/", json=note, timeout=5).status_code == 200
    assert httpx.post(f"{world.alert_sink_url}/", json={"no": "alerts"}, timeout=5).status_code == 400
    assert httpx.post(f"{world.alert_sink_url}/", content=b"{", timeout=5).status_code == 400
    assert [a["receiver"] for a in fetch_received(world.alert_sink_url, "SinkTest")][-1:] == ["ops"]
