"""Every Grafana dashboard query returns data from the world's Prometheus. Runs after every other
test (``after_dags``): the data is what the suite's DAG runs, drills and requests left behind."""

from __future__ import annotations

import pytest
from localworld import drills

from multiregion.monitoring.dashboards import queries_without_data

pytestmark = [pytest.mark.world, pytest.mark.after_dags]


def test_every_dashboard_query_returns_data(world):
    url = world.topology.monitoring.prometheus_url
    try:
        drills.wait_for("dashboard data", lambda: not queries_without_data(url), 60, 5)
    except TimeoutError:
        missing = "\n".join(f"{b}: {t}: {e}" for b, t, e in queries_without_data(url))
        pytest.fail(f"queries without data:\n{missing}")
