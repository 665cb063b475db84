"""Config the DAG files need at parse time: small YAML reads only (no SDKs, no network)."""

from __future__ import annotations

from functools import cache


@cache
def dataset_source_assets() -> dict:
    """{dataset name: Asset for its source prefix} — producers emit events on these."""
    from airflow.sdk import Asset

    from multiregion.core.datasets import load_catalog
    from multiregion.core.topology import load_topology

    topology = load_topology()
    assets = {}
    for ds in load_catalog(topology).datasets:
        storage = topology.region(ds.source.region).storage
        scheme = {"s3": "s3", "gcs": "gs", "azure_blob": "wasb"}[storage.kind.value]
        assets[ds.name] = Asset(name=f"dataset-source/{ds.name}", uri=f"{scheme}://{storage.bucket}/{ds.source.prefix}")
    return assets
