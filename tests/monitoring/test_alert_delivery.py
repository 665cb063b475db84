"""Alerts reach "ops": a killed region's RegionDown is delivered by Alertmanager to the world's
webhook sink, and its resolution when the region is back; Airflow's own metrics are scraped."""

from __future__ import annotations

import time

import pytest
from localworld import controller, drills
from localworld.alert_sink import fetch_received

from multiregion.monitoring.prometheus import instant

pytestmark = [pytest.mark.world]


def _delivered(world, status: str, region: str, since: float) -> list[dict]:
    return [
        a
        for a in fetch_received(world.alert_sink_url, "RegionDown")
        if a["status"] == status and a["labels"].get("region") == region and a["received_at"] >= since
    ]


def test_region_down_is_delivered_and_resolved(world):
    drills.reset(world)
    since = time.time()
    controller.stop_service(world, "serving-eu-west-1")
    try:
        (firing, *_) = drills.wait_for(
            "RegionDown delivered", lambda: _delivered(world, "firing", "eu-west-1", since), 90
        )
        assert firing["labels"]["severity"] == "critical" and firing["labels"]["cloud"] == "gcp"
        assert firing["annotations"]["summary"] == "Serving endpoint of eu-west-1 (gcp) is not answering"
        assert not _delivered(world, "firing", "us-west-2", since)  # only the killed region
    finally:
        drills.start_serving(world)
    back = time.time()
    drills.wait_for("RegionDown resolved", lambda: _delivered(world, "resolved", "eu-west-1", back), 120)


def test_airflow_metrics_are_in_prometheus(world):
    url = world.topology.monitoring.prometheus_url
    for name in ("airflow_scheduler_heartbeat_total", "airflow_triggerer_heartbeat_total",
                 "airflow_dag_processor_heartbeat_total"):  # fmt: skip
        drills.wait_for(f"{name} increasing", lambda n=name: instant(url, f"rate({n}[1m]) > 0"), 90, 2)
    assert instant(url, 'up{job="airflow"} == 1')
