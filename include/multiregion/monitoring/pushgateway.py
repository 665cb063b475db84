"""Push a DAG run's metrics to the Prometheus Pushgateway (prometheus-client).

Batch jobs can't be scraped, so every DAG pushes its figures under a grouping key
(job + region, ...); Prometheus scrapes the Pushgateway with ``honor_labels``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

PREFIX = "multiregion_"


class PushError(RuntimeError):
    """The Pushgateway could not take the metrics."""


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


def push_by_label(
    gateway_url: str,
    job: str,
    label: str,
    values: Mapping[str, Mapping[str, float]],
    unlabeled: Mapping[str, float] | None = None,
    timeout: float = 5.0,
) -> None:
    """Replace ``job``'s metrics with one series per metric and ``label`` value
    (``{"traffic_weight": {"us-west-2": 100, ...}}``) and the ``unlabeled`` ones. Raises ``PushError``."""
    registry = CollectorRegistry()
    for name, value in (unlabeled or {}).items():
        Gauge(PREFIX + name, name.replace("_", " "), registry=registry).set(value)
    for name, series in values.items():
        gauge = Gauge(PREFIX + name, name.replace("_", " "), [label], registry=registry)
        for key, value in series.items():
            gauge.labels(key).set(value)
    try:
        push_to_gateway(gateway_url, job=job, registry=registry, timeout=timeout)
    except OSError as exc:  # urllib's URLError/HTTPError are OSErrors
        raise PushError(f"Pushgateway {gateway_url} refused job {job}: {exc}") from exc


def push_traffic(
    gateway_url: str, weights: Mapping[str, int], drained_since: Mapping[str, float], maintenance: set[str]
) -> None:
    """The traffic controller's view after each change: weight, drained-since (0: not drained) and
    maintenance per region."""
    push_by_label(
        gateway_url,
        "traffic",
        "region",
        {
            "traffic_weight": dict(weights),
            "traffic_drained_since_timestamp_seconds": {r: drained_since.get(r, 0.0) for r in weights},
            "region_maintenance": {r: float(r in maintenance) for r in weights},
        },
    )
