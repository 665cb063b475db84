"""region_store: one store (and SDK client) per process and connection."""

from __future__ import annotations

import json

from multiregion.core.topology import load_topology
from multiregion.stores.registry import region_store


def test_same_connection_same_store_changed_connection_new_store(monkeypatch):
    region = load_topology().region("us-west-2")
    env = f"AIRFLOW_CONN_{region.storage.conn_id.upper()}"
    monkeypatch.setenv(env, json.dumps({"conn_type": "aws", "login": "a", "password": "b"}))
    first = region_store(region)
    assert region_store(region) is first  # no second client for the same connection
    assert (first.kind, first.conn_id, first.bucket) == ("s3", region.storage.conn_id, region.storage.bucket)

    monkeypatch.setenv(env, json.dumps({"conn_type": "aws", "login": "c", "password": "d"}))
    assert region_store(region) is not first  # a changed connection is not served a stale client
    other = load_topology().region("eu-west-1")
    assert region_store(other) is not region_store(region)
