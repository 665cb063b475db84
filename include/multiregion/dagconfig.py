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
        # The "x-" scheme skips Airflow's provider URI normalizers, whose first use costs ~1.3 s of
        # DAG parsing (it initializes the providers manager); the location stays readable.
        uri = f"x-{scheme}://{storage.bucket}/{ds.source.prefix}"
        assets[ds.name] = Asset(name=f"dataset-source/{ds.name}", uri=uri)
    return assets
