"""ObjectVisibleSensor: wait until an object is visible in a store, without holding a worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException


class ObjectVisibleSensor(BaseSensorOperator):
    """Checks once; if the object isn't there yet, defers to ``ObjectVisibleTrigger``."""

    template_fields: Sequence[str] = ("kind", "conn_id", "bucket", "key", "expected_size")

    def __init__(
        self,
        *,
        kind: str,
        conn_id: str,
        bucket: str,
        key: str,
        expected_size: int | None = None,
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.conn_id = conn_id
        self.bucket = bucket
        self.key = key
        self.expected_size = expected_size
        self.poll_interval = poll_interval

    def execute(self, context: Any) -> dict[str, Any] | None:
        from multiregion.stores import open_store
        from multiregion.stores.errors import ObjectNotFound
        from multiregion.triggers.stores import ObjectVisibleTrigger

        expected = int(self.expected_size) if self.expected_size is not None else None
        try:
            info = open_store(self.kind, conn_id=self.conn_id, bucket=self.bucket).head(self.key)
            if expected is None or info.size == expected:
                return {"status": "success", "key": self.key, "size": info.size, "etag": info.etag}
        except ObjectNotFound:
            pass

        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=ObjectVisibleTrigger(
                kind=self.kind,
                conn_id=self.conn_id,
                bucket=self.bucket,
                key=self.key,
                expected_size=expected,
                poll_interval=self.poll_interval,
                timeout=timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + 30),
        )
        return None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "success":
            raise AirflowException(f"object not visible: {event.get('message', event)}")
        return event
