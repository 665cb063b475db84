"""Config the DAG files need at parse time: small YAML reads only (no SDKs, no network)."""

from __future__ import annotations

from functools import cache


@cache
def dataset_source_assets() -> dict:
    """{dataset name: Asset for its source prefix} — producers emit events on these."""
    from airflow.sdk import Asset

    from multiregion.core.datasets import load_catalog
    from multiregion.core.topology import load_topology
    from multiregion.stores.base import SCHEMES

    topology = load_topology()
    assets = {}
    for ds in load_catalog(topology).datasets:
        storage = topology.region(ds.source.region).storage
        scheme = SCHEMES[storage.kind.value]  # as the store names its URLs
        # The "x-" scheme skips Airflow's provider URI normalizers, whose first use costs ~1.3 s of
        # DAG parsing (it initializes the providers manager); the location stays readable.
        uri = f"x-{scheme}://{storage.bucket}/{ds.source.prefix}"
        assets[ds.name] = Asset(name=f"dataset-source/{ds.name}", uri=uri)
    return assets


# The health watch: probe every second; 3 failures in a row -> unhealthy (~3-4 s to detect a dead
# region), 3 successes -> healthy again. Region flapping faster than that changes nothing.
HEALTH_INTERVAL_S = 1.0
# A probe may take longer than the latency limit before it times out: a slow region is judged by
# its latency ("slow, not dead"), a dead one by refused or timed-out connections.
HEALTH_POLICY = {"failure_threshold": 3, "success_threshold": 3, "probe_timeout_s": 1.5, "max_latency_s": 1.0}


@cache
def region_health_asset():
    """The Asset whose watcher (a trigger in the triggerer) probes every region continuously and
    fires an event on each health change; the failover DAG is scheduled on it."""
    from airflow.sdk import Asset, AssetWatcher

    from multiregion.core.topology import load_topology
    from multiregion.triggers.health import RegionHealthWatchTrigger

    topology = load_topology()
    endpoints = {r.name: r.serving.endpoints[0] for r in topology.regions}
    trigger = RegionHealthWatchTrigger(
        endpoints,
        interval=HEALTH_INTERVAL_S,
        policy=HEALTH_POLICY,
        pushgateway_url=topology.monitoring.pushgateway_url,
        vantages={v.name: str(v.source_address) if v.source_address else None for v in topology.health.vantages},
        quorum=topology.health.quorum,
    )
    return Asset(
        name="region-health",
        uri="x-multiregion://region-health",
        watchers=[AssetWatcher(name="region-health-watch", trigger=trigger)],
    )


@cache
def region_names() -> list[str]:
    from multiregion.core.topology import load_topology

    return load_topology().region_names


def region_list_param(description: str):
    """A DAG param naming regions of the topology (empty: all); unknown names get a 400 from the API."""
    from airflow.sdk import Param

    return Param([], type="array", items={"type": "string", "enum": region_names()}, description=description)


def date_list_param(description: str):
    """A DAG param of ISO dates; a malformed or impossible date (2026-02-30) gets a 400 from the API."""
    from airflow.sdk import Param

    return Param([], type="array", items={"type": "string", "format": "date"}, description=description)


REGISTRY_EVENTS_ASSET = "model-registry-events"


@cache
def registry_events_asset():
    """The Asset the registry webhook (plugin app) records each MLflow delivery on; the
    ``model_registry_events`` DAG is scheduled on it."""
    from airflow.sdk import Asset

    return Asset(name=REGISTRY_EVENTS_ASSET, uri="x-mlflow://primary-registry/model-events")


@cache
def scaling_interval():
    """How often ``scaling_schedule`` runs (``interval`` of config/scaling.yaml)."""
    from multiregion.core.scaling_config import load_scaling
    from multiregion.core.topology import load_topology

    return load_scaling(load_topology()).interval


@cache
def cost_config():
    """The cost analyzer's config (config/cost.yaml): its schedule and clouds."""
    from multiregion.core.cost_config import load_cost_config
    from multiregion.core.topology import load_topology

    return load_cost_config(load_topology())
