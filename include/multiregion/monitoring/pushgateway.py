"""Push a DAG run's metrics to the Prometheus Pushgateway (prometheus-client).

Batch jobs can't be scraped, so every DAG pushes its figures under a grouping key
(job + region, ...); Prometheus scrapes the Pushgateway with ``honor_labels``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

PREFIX = "multiregion_"


def push_gauges(
    gateway_url: str,
    job: str,
    values: Mapping[str, float],
    grouping_key: Mapping[str, str] | None = None,
    documentation: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> None:
    """Replace this job/grouping key's metrics on the gateway with ``values`` (names without prefix)."""
    registry = CollectorRegistry()
    for name, value in values.items():
        doc = (documentation or {}).get(name, name.replace("_", " "))
        Gauge(PREFIX + name, doc, registry=registry).set(value)
    push_to_gateway(gateway_url, job=job, registry=registry, grouping_key=dict(grouping_key or {}), timeout=timeout)
