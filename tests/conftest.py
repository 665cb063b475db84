"""Test configuration shared by the whole suite.

The world's Airflow configuration and connections are exported *before* anything imports
Airflow, so hooks in tests resolve the same ``AIRFLOW_CONN_*`` connections the DAGs use.
Tests marked ``world``/``airflow`` need the servers: the test command (scripts/test.sh)
starts them; run alone, the ``world`` fixture starts them and stops them afterwards.
"""

from __future__ import annotations

import os

import pytest
from localworld.secrets import load_or_create_secrets
from localworld.services import airflow_env, client_env
from localworld.settings import load_settings

SETTINGS = load_settings()
SECRETS = load_or_create_secrets(SETTINGS.state_dir)
os.environ.update(airflow_env(SETTINGS, SECRETS) | client_env(SETTINGS, SECRETS))


def _store_env() -> dict[str, str]:
    env = {}
    names = {"s3": "S3", "gcs": "GCS", "azure_blob": "AZURE"}
    for region in SETTINGS.topology.regions:
        tag = names[region.storage.kind.value]
        env[f"MR_TEST_{tag}_CONN"] = region.storage.conn_id
        env[f"MR_TEST_{tag}_BUCKET"] = region.storage.bucket
    return env


os.environ.update({k: v for k, v in _store_env().items() if k not in os.environ})


def pytest_collection_modifyitems(config, items):
    """Tests marked ``after_dags`` go last: they read what the other tests' runs left behind."""
    items.sort(key=lambda item: item.get_closest_marker("after_dags") is not None)


@pytest.fixture(scope="session")
def world():
    """The running local world; started here (and stopped at the end) only if it wasn't running.

    A running world with a service down (another test may have stopped one on purpose) is
    brought back up but never stopped here: it belongs to whoever started it.
    """
    from localworld import controller

    rows = controller.status(SETTINGS)
    started_here = not rows
    if not rows or not all(ready for _, _, ready in rows):
        controller.up(SETTINGS)
    yield SETTINGS
    if started_here:
        controller.down(SETTINGS)


@pytest.fixture(scope="session")
def store_targets(world):
    """(kind, conn_id, bucket) for each store kind, from the topology (used by the contract suite)."""
    return {
        r.storage.kind.value: (r.storage.kind.value, r.storage.conn_id, r.storage.bucket)
        for r in world.topology.regions
    }


@pytest.fixture(scope="session")
def airflow_client(world):
    from multiregion.airflow_api import AirflowClient

    return AirflowClient.from_env()


@pytest.fixture(scope="session")
def training_pipeline():
    """scripts/train_and_replicate.py, the example training pipeline, as a module."""
    import importlib.util

    from multiregion import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location(
        "train_and_replicate", PROJECT_ROOT / "scripts/train_and_replicate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def world_secrets():
    """The local world's generated credentials (e.g. the registry webhook secret)."""
    return SECRETS
