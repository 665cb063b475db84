"""Wait, in the triggerer, until an object is visible in a region's store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

# The hooks and SDKs are imported here, once, when the triggerer loads this module: importing
# them inside run() (even in a worker thread, which holds the GIL) stalls every trigger.
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.google.cloud.hooks.gcs
import airflow.providers.microsoft.azure.hooks.wasb  # noqa: F401
from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from multiregion.stores import open_store
from multiregion.stores.errors import ObjectNotFound


class ObjectVisibleTrigger(BaseTrigger):
    """Fires when ``key`` exists in the store (and has ``expected_size`` bytes, if given).

    Only observes: a trigger may run twice (triggerer failover), so it never writes.
    """

    def __init__(
        self,
        kind: str,
        conn_id: str,
        bucket: str,
        key: str,
        expected_size: int | None = None,
        poll_interval: float = 2.0,
        timeout: float = 300.0,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.conn_id = conn_id
        self.bucket = bucket
        self.key = key
        self.expected_size = expected_size
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "conn_id": self.conn_id,
                "bucket": self.bucket,
                "key": self.key,
                "expected_size": self.expected_size,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = time.monotonic() + self.timeout
        try:
            store = await sync_to_async(open_store)(self.kind, conn_id=self.conn_id, bucket=self.bucket)
            while True:
                try:
                    info = await sync_to_async(store.head)(self.key)
                except ObjectNotFound:
                    info = None
                if info is not None and (self.expected_size is None or info.size == self.expected_size):
                    yield TriggerEvent({"status": "success", "key": self.key, "size": info.size, "etag": info.etag})
                    return
                if time.monotonic() > deadline:
                    seen = "absent" if info is None else f"{info.size} bytes, expected {self.expected_size}"
                    yield TriggerEvent(
                        {"status": "timeout", "message": f"{self.kind}://{self.bucket}/{self.key}: {seen}"}
                    )
                    return
                await asyncio.sleep(self.poll_interval)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error event
            yield TriggerEvent({"status": "error", "message": f"{type(exc).__name__}: {exc}"})
