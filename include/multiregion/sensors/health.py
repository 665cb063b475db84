"""RegionHealthySensor: wait, in the triggerer, until a region has been healthy for a hold period."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException

from multiregion.triggers.hold import RegionHoldTrigger


class RegionHealthySensor(BaseSensorOperator):
    template_fields = ("region", "endpoint", "hold_s", "timeout_s")

    def __init__(
        self,
        *,
        region: str,
        endpoint: str,
        hold_s: float,
        timeout_s: float = 900.0,
        probe_interval_s: float = 1.0,
        health_policy: dict[str, Any] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.region, self.endpoint, self.hold_s, self.timeout_s = region, endpoint, hold_s, timeout_s
        self.probe_interval_s, self.health_policy = probe_interval_s, health_policy or {}

    def execute(self, context) -> None:
        self.defer(
            trigger=RegionHoldTrigger(
                self.region,
                self.endpoint,
                "await_healthy",
                float(self.hold_s),
                interval=self.probe_interval_s,
                policy=self.health_policy,
                timeout_s=float(self.timeout_s),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context, event: dict) -> dict:
        if event["status"] != "healthy":
            raise AirflowException(
                f"{self.region} not healthy for {self.hold_s}s within {self.timeout_s}s: {event.get('reason')}"
            )
        self.log.info("%s healthy for %ss", self.region, event["held_s"])
        return event
