"""Publish replicas atomically, read what is published, and collect superseded versions.

The manifest is written first (immutable, keyed by version), then the pointer — a single small
object write, atomic in S3, GCS and Azure Blob. A reader that follows the pointer therefore only
ever sees a complete, validated version; a run killed before the pointer write leaves the
previously published version in place.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from multiregion.core import replica_layout as layout
from multiregion.core.manifest import Manifest, versions_to_collect
from multiregion.stores.base import ObjectStore
from multiregion.stores.errors import ObjectNotFound

LOCATION_OBJECTS, LOCATION_SOURCE = layout.LOCATION_OBJECTS, layout.LOCATION_SOURCE


@dataclass(frozen=True)
class Pointer:
    dataset: str
    partition: str
    version: str
    manifest: str
    published_at: str
    location: str = LOCATION_OBJECTS
    history: list[dict[str, str]] = field(default_factory=list)  # newest first, current included

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def read_pointer(store: ObjectStore, dataset: str, partition: str) -> Pointer | None:
    try:
        data = b"".join(store.iter_read(layout.pointer_key(dataset, partition)))
    except ObjectNotFound:
        return None
    return Pointer(**json.loads(data))


def read_manifest(store: ObjectStore, key: str) -> Manifest:
    return Manifest.from_json(b"".join(store.iter_read(key)).decode(), where=store.url_for(key))


def published_manifest(store: ObjectStore, dataset: str, partition: str) -> Manifest | None:
    pointer = read_pointer(store, dataset, partition)
    return None if pointer is None else read_manifest(store, pointer.manifest)


def published_versions(store: ObjectStore, dataset: str) -> dict[str, str]:
    """{partition: published version} of ``dataset`` in the store."""
    versions = {}
    for info in store.list(layout.pointers_prefix(dataset)):
        partition = info.key.rsplit("/", 1)[-1].removesuffix(".json")
        pointer = read_pointer(store, dataset, partition)
        if pointer is not None:
            versions[partition] = pointer.version
    return versions


def write_manifest(store: ObjectStore, manifest: Manifest) -> str:
    key = layout.manifest_key(manifest.dataset, manifest.partition, manifest.version)
    if not store.exists(key):  # immutable: same version, same content
        store.write(key, manifest.to_json().encode(), content_type="application/json")
    return key


def publish(store: ObjectStore, manifest: Manifest, location: str, now: datetime | None = None) -> Pointer:
    """Make ``manifest`` the published version (manifest first, pointer last). Idempotent."""
    key = write_manifest(store, manifest)
    current = read_pointer(store, manifest.dataset, manifest.partition)
    if current is not None and current.version == manifest.version and current.location == location:
        return current
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    history = [{"version": manifest.version, "published_at": stamp}]
    if current is not None:
        history += [h for h in current.history if h["version"] != manifest.version]
    pointer = Pointer(manifest.dataset, manifest.partition, manifest.version, key, stamp, location, history)
    store.write(
        layout.pointer_key(manifest.dataset, manifest.partition),
        pointer.to_json().encode(),
        content_type="application/json",
    )
    return pointer


def present_digests(store: ObjectStore, dataset: str) -> set[str]:
    """Digests of the objects a region already holds for ``dataset`` (each verified when written)."""
    prefix = layout.objects_prefix(dataset)
    return {info.key[len(prefix) :] for info in store.list(prefix)}


@dataclass
class GcResult:
    manifests_deleted: int = 0
    objects_deleted: int = 0
    bytes_freed: int = 0


def collect_garbage(
    store: ObjectStore, dataset: str, keep_versions: int, min_age_hours: float, now: datetime | None = None
) -> GcResult:
    """Delete superseded manifests beyond the retention, then objects no remaining manifest references.

    A copy writes its manifest to the destination before its objects, so the objects of a copy in
    progress are protected by their (not yet published) manifest. Unpublished manifests older than
    ``min_age_hours`` belong to abandoned runs and are collected; so are unreferenced objects of
    that age (a run killed before it wrote anything else).
    """
    now = now or datetime.now(UTC)
    result = GcResult()
    pointers = [
        json.loads(b"".join(store.iter_read(info.key)))
        for info in store.list(layout.pointers_prefix(dataset))
        if info.key.endswith(".json")
    ]
    keep_keys: set[str] = set()
    published_keys: set[str] = set()
    for raw in pointers:
        pointer = Pointer(**raw)
        history = [(h["version"], datetime.fromisoformat(h["published_at"])) for h in pointer.history]
        doomed = set(versions_to_collect(history, keep_versions, now, min_age_hours))
        kept = [v for v, _ in history if v not in doomed]
        keep_keys |= {layout.manifest_key(dataset, pointer.partition, v) for v in kept}
        published_keys |= {layout.manifest_key(dataset, pointer.partition, v) for v, _ in history}
        for version in doomed:
            store.delete(layout.manifest_key(dataset, pointer.partition, version))
            result.manifests_deleted += 1
        if doomed:
            trimmed = Pointer(**{**raw, "history": [h for h in pointer.history if h["version"] not in doomed]})
            store.write(layout.pointer_key(dataset, pointer.partition), trimmed.to_json().encode())
    referenced: set[str] = set()
    for info in store.list(layout.manifests_prefix(dataset)):
        if info.key in keep_keys:
            referenced |= read_manifest(store, info.key).digests
        elif info.key not in published_keys:  # written by a copy that has not published (yet)
            if _age_hours(now, info) >= min_age_hours:
                store.delete(info.key)
                result.manifests_deleted += 1
            else:
                referenced |= read_manifest(store, info.key).digests
    prefix = layout.objects_prefix(dataset)
    for info in store.list(prefix):
        digest = info.key[len(prefix) :]
        if digest not in referenced and _age_hours(now, info) >= min_age_hours:
            store.delete(info.key)
            result.objects_deleted += 1
            result.bytes_freed += info.size
    return result


def _age_hours(now: datetime, info) -> float:
    return (now - info.last_modified).total_seconds() / 3600 if info.last_modified else 0.0
