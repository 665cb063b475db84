"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import time

import pytest
from localworld import drills


@pytest.fixture
def armed(world, airflow_client):
    """Failover armed with quick recovery settings; afterwards disarmed and the world reset."""
    for dag_id in (drills.FAILOVER_DAG, drills.RECOVERY_DAG):
        airflow_client.wait_for_dag(dag_id)
    drills.reset(world)
    started = time.time()

    def arm(recovery_conf: dict):
        drills.arm(airflow_client, world, recovery_conf)

    yield arm, started
    try:  # still armed: the regions come back, the recoveries the test started finish, then disarm
        drills.start_serving(world)
        if airflow_client.get_dag(drills.FAILOVER_DAG)["is_paused"] is False:
            back = time.time()
            drills.wait_for("every region healthy", lambda: drills.all_healthy(world, back), 120, 1)
        drills.disarm(airflow_client)
    finally:
        drills.reset(world)
