"""Where replicas live inside a region's store (pure naming; no I/O).

    datasets/<name>/objects/<sha256>                       content-addressed data files
    datasets/<name>/manifests/<partition>/<version>.json   immutable manifests
    datasets/<name>/published/<partition>.json             the pointer readers follow (written last)

The source region keeps its data where its producers put it; its published manifests name the
objects by path under the dataset's source prefix instead of by digest.
"""

from __future__ import annotations

ROOT = "datasets"


def objects_prefix(dataset: str) -> str:
    return f"{ROOT}/{dataset}/objects/"


def object_key(dataset: str, sha256: str) -> str:
    return f"{objects_prefix(dataset)}{sha256}"


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
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return f"_ledger/transfers/day={day}/{safe}__{dataset}__{partition}__{region}.json"
