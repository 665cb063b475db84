"""A second, private world (other ports, other state dir) starts, restarts a crashed server and stops clean."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.world

PORT_VARS = {
    "MR_S3_PORT": 0, "MR_GCS_PORT": 1, "MR_AZURE_PORT": 2, "MR_PDNS_DNS_PORT": 3, "MR_PROMETHEUS_PORT": 4,
    "MR_PUSHGATEWAY_PORT": 5, "MR_ALERTMANAGER_PORT": 6, "MR_MLFLOW_US_WEST_2_PORT": 7,
    "MR_MLFLOW_EU_WEST_1_PORT": 8, "MR_MLFLOW_AP_SOUTH_1_PORT": 9, "MR_SERVING_US_WEST_2_PORT": 10,
    "MR_SERVING_EU_WEST_1_PORT": 11, "MR_SERVING_AP_SOUTH_1_PORT": 12, "MR_AIRFLOW_PORT": 13,
    "MR_POSTGRES_PORT": 14, "MR_MOTO_PORT": 15, "MR_PDNS_API_PORT": 16, "MR_S3_MASTER_PORT": 17,
    "MR_S3_VOLUME_PORT": 18, "MR_S3_FILER_PORT": 19, "MR_S3_ADMIN_PORT": 20, "MR_KUBE_PORT": 21,
    "MR_ALERT_SINK_PORT": 22, "MR_STATSD_PORT": 23, "MR_STATSD_METRICS_PORT": 24,
}  # fmt: skip
BASE = 21100  # SeaweedFS also uses port + 10000 for gRPC


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _world(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localworld", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def private_world():
    # Under a 0700 directory, like a clone in /root: PostgreSQL (user postgres) must still start.
    state = Path(tempfile.mkdtemp(prefix="mr-world-test-", dir="/var/tmp")) / "world"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MR_"))}
    env |= {name: str(BASE + offset) for name, offset in PORT_VARS.items()} | {"MR_WORLD_DIR": str(state)}
    ports = [BASE + o for o in PORT_VARS.values()]
    busy = [p for p in ports if not _free(p)]
    assert not busy, f"ports needed by the private world are taken: {busy}"
    yield env, state, ports
    _world(env, "purge")
    shutil.rmtree(state.parent, ignore_errors=True)


def test_infrastructure_starts_restarts_a_crash_and_stops_clean(private_world):
    env, state, ports = private_world
    up = _world(env, "up", "--stages", "infrastructure")
    assert up.returncode == 0, up.stdout + up.stderr
    status = _world(env, "status")
    assert "moto" in status.stdout and "RUNNING" in status.stdout

    # kill -9 a server: supervisord restarts it
    def moto_pids() -> set[int]:
        marker = f"-p {env['MR_MOTO_PORT']}"
        return {p.pid for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])}

    (old,) = moto_pids()
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not (moto_pids() - {old} and not _free(int(env["MR_MOTO_PORT"]))):
        assert time.monotonic() < deadline, "moto was not restarted after kill -9"
        time.sleep(0.5)

    down = _world(env, "down", "--strict")
    assert down.returncode == 0, f"processes survived the graceful stop: {down.stdout}{down.stderr}"
    survivors = [
        p.pid
        for p in psutil.process_iter(["cmdline", "cwd"])
        if str(state) in " ".join(p.info["cmdline"] or []) or (p.info["cwd"] or "").startswith(str(state))
    ]
    assert not survivors
    assert all(_free(p) for p in ports), [p for p in ports if not _free(p)]
    assert "PostgreSQL's data lives in /var/tmp/multiregion-postgres-" in up.stdout


def test_bad_topology_stops_before_starting_anything(private_world, tmp_path):
    env, state, _ = private_world
    bad = tmp_path / "topology.yaml"
    bad.write_text("version: 1\nname: x\nregions: []\n")
    result = _world({**env, "MR_TOPOLOGY": str(bad)}, "up")
    assert result.returncode == 2
    assert f"error: {bad}: regions: List should have at least 1 item" in result.stderr
    assert not (state / "supervisord.pid").exists()
