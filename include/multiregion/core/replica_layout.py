"""Where replicas live inside a region's store (pure naming; no I/O).

    datasets/<name>/objects/<sha256>                       content-addressed data files
    datasets/<name>/manifests/<partition>/<version>.json   immutable manifests
    datasets/<name>/published/<partition>.json             the pointer readers follow (written last)

The source region keeps its data where its producers put it; its published manifests name the
objects by path under the dataset's source prefix instead of by digest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from multiregion.core.naming import safe_name

if TYPE_CHECKING:
    from multiregion.core.datasets import Dataset
    from multiregion.core.manifest import ManifestEntry

ROOT = "datasets"
LOCATION_OBJECTS = "objects"  # replica: data under datasets/<name>/objects/<sha256>
LOCATION_SOURCE = "source"  # the source region: data under the dataset's source prefix


def objects_prefix(dataset: str) -> str:
    return f"{ROOT}/{dataset}/objects/"


def object_key(dataset: str, sha256: str) -> str:
    return f"{objects_prefix(dataset)}{sha256}"


def entry_key(dataset: Dataset, partition: str, location: str, entry: ManifestEntry) -> str:
    """Where ``entry``'s bytes live in a region: under the source prefix, or content-addressed.
    The one answer for the reader and for the copy's source side."""
    if location == LOCATION_SOURCE:
        return dataset.source_prefix(partition) + entry.path
    return object_key(dataset.name, entry.sha256)


def manifests_prefix(dataset: str, partition: str | None = None) -> str:
    base = f"{ROOT}/{dataset}/manifests/"
    return base if partition is None else f"{base}{partition}/"


def manifest_key(dataset: str, partition: str, version: str) -> str:
    return f"{manifests_prefix(dataset, partition)}{version}.json"


def pointer_key(dataset: str, partition: str) -> str:
    return f"{ROOT}/{dataset}/published/{partition}.json"


def pointers_prefix(dataset: str) -> str:
    return f"{ROOT}/{dataset}/published/"


def transfer_ledger_key(day: str, run_id: str, dataset: str, partition: str, region: str) -> str:
    safe = safe_name(run_id)
    return f"_ledger/transfers/day={day}/{safe}__{dataset}__{partition}__{region}.json"
