"""ObjectVisibleTrigger against the real stores: serialization round trip, success, size gate, timeout."""

from __future__ import annotations

import asyncio
import importlib
import uuid

import pytest

from multiregion.triggers.stores import ObjectVisibleTrigger

pytestmark = pytest.mark.world


def _first_event(trigger: ObjectVisibleTrigger) -> dict:
    async def first():
        async for event in trigger.run():
            return event.payload
        raise AssertionError("trigger ended without an event")

    return asyncio.run(first())


def test_serialize_round_trip():
    trigger = ObjectVisibleTrigger("s3", "c", "b", "k", expected_size=5, poll_interval=0.5, timeout=9)
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    clone = getattr(importlib.import_module(module), name)(**kwargs)
    assert clone.serialize() == (path, kwargs)


@pytest.fixture(params=["s3", "gcs", "azure_blob"])
def target(request, store_targets):
    from multiregion.stores import open_store

    kind, conn_id, bucket = store_targets[request.param]
    store = open_store(kind, conn_id=conn_id, bucket=bucket)
    key = f"_test/trigger-{uuid.uuid4().hex}"
    yield store, kind, conn_id, bucket, key
    store.delete(key)


def test_fires_when_object_appears_with_expected_size(target):
    store, kind, conn_id, bucket, key = target
    store.write(key, [b"hello"])
    event = _first_event(ObjectVisibleTrigger(kind, conn_id, bucket, key, expected_size=5, timeout=10))
    assert event == {"status": "success", "key": key, "size": 5, "etag": event["etag"]}


def test_times_out_on_missing_or_wrong_size(target):
    store, kind, conn_id, bucket, key = target
    event = _first_event(ObjectVisibleTrigger(kind, conn_id, bucket, key, poll_interval=0.2, timeout=0.5))
    assert event["status"] == "timeout" and "absent" in event["message"]
    store.write(key, [b"hello"])
    event = _first_event(ObjectVisibleTrigger(kind, conn_id, bucket, key, 99, poll_interval=0.2, timeout=0.5))
    assert event["status"] == "timeout" and "5 bytes, expected 99" in event["message"]


def test_unknown_connection_becomes_an_error_event():
    event = _first_event(ObjectVisibleTrigger("s3", "no_such_conn", "b", "k", timeout=1))
    assert event["status"] == "error" and "no_such_conn" in event["message"]
