"""Replica objects at rest: record them as written, check them against the record, repair them.

One home for what re-runs and the scrub share. ``check`` judges each wanted object from a listing
(``core.integrity.judge``) and reads (sha256) the ones a listing cannot vouch for plus the deep
pass's share; ``repair`` rewrites a bad object from another copy with the same sha256, verified
before it is committed, so a failed repair leaves the bad object as it was and never touches a
good copy or the published pointer. Nothing here deletes anything.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from multiregion.core.integrity import Observed, Verdict, judge
from multiregion.core.topology import Topology
from multiregion.state.postgres import StateStore
from multiregion.stores.base import ObjectInfo, ObjectStore
from multiregion.stores.errors import ObjectNotFound, ObjectStoreError
from multiregion.stores.registry import region_store

log = logging.getLogger(__name__)

REPLICA_CORRUPT, REPLICA_REPAIRED = "ReplicaCorrupt", "ReplicaRepaired"
DATASET, MODEL = "dataset", "model"


@dataclass(frozen=True)
class Wanted:
    """An object a replica must hold: where, which bytes, and whose it is."""

    key: str
    sha256: str
    size: int
    owner: str  # the dataset, or "<model>/v<version>"
    content_type: str | None = None
    metadata: dict[str, str] | None = None


@dataclass
class Checked:
    good: list[Wanted] = field(default_factory=list)
    bad: list[tuple[Wanted, Verdict]] = field(default_factory=list)
    read_objects: int = 0
    read_bytes: int = 0


def observed(info: ObjectInfo) -> Observed:
    return Observed(info.size, info.etag, info.md5)


def record_row(region: str, kind: str, owner: str, store: ObjectStore, key: str, info: ObjectInfo, sha256: str):
    return {
        "url": store.url_for(key),
        "region": region,
        "kind": kind,
        "owner": owner,
        "sha256": sha256,
        "size": info.size,
        "etag": info.etag,
        "md5": info.md5,
    }


def sha256_of(store: ObjectStore, key: str) -> str | None:
    """The stored bytes' sha256, or None when the object is gone."""
    digest = hashlib.sha256()
    try:
        for chunk in store.iter_read(key):
            digest.update(chunk)
    except ObjectNotFound:
        return None
    return digest.hexdigest()


def check(
    state: StateStore,
    region: str,
    kind: str,
    store: ObjectStore,
    wanted: Iterable[Wanted],
    listing: dict[str, ObjectInfo | None],
    *,
    deep: set[str] = frozenset(),
    parallel: int = 8,
) -> Checked:
    """Judge every wanted object; read those unverifiable from the listing and those in ``deep``
    (keys); record what reads prove good. ``listing`` maps each key to its info (None: absent)."""
    wanted = list(wanted)
    records = state.replicas([store.url_for(w.key) for w in wanted])
    result = Checked()
    to_read: list[Wanted] = []
    for item in wanted:
        info = listing.get(item.key)
        verdict = judge(item.size, records.get(store.url_for(item.key)), observed(info) if info else None)
        if verdict is Verdict.OK and item.key not in deep:
            result.good.append(item)
        elif verdict in (Verdict.OK, Verdict.UNVERIFIED):
            to_read.append(item)
        else:
            result.bad.append((item, verdict))

    def read(item: Wanted) -> tuple[Wanted, str | None]:
        return item, sha256_of(store, item.key)

    proven = []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for item, digest in pool.map(read, to_read):
            result.read_objects += 1
            result.read_bytes += item.size
            if digest == item.sha256:
                result.good.append(item)
                proven.append(record_row(region, kind, item.owner, store, item.key, listing[item.key], item.sha256))
            else:
                result.bad.append((item, Verdict.MISSING if digest is None else Verdict.CHANGED))
    state.record_replicas(proven)
    return result


def recorded_sources(
    state: StateStore, topology: Topology, sha256: str, exclude_url: str
) -> list[tuple[str, ObjectStore, str]]:
    """(region, store, key) of every other recorded copy of these bytes, in topology order."""
    copies = state.replica_regions([sha256]).get(sha256, [])
    order = {name: i for i, name in enumerate(topology.region_names)}
    out = []
    for region, url in sorted(copies, key=lambda c: (order.get(c[0], len(order)), c[1])):
        if url == exclude_url or region not in order:
            continue
        store = region_store(topology.region(region))
        if url.startswith(store.url):
            out.append((region, store, url[len(store.url) :]))
    return out


def repair(
    state: StateStore,
    region: str,
    kind: str,
    dest: ObjectStore,
    item: Wanted,
    sources: list[tuple[str, ObjectStore, str]],
) -> str | None:
    """Rewrite ``item`` from the first source whose bytes verify; the source's url, or None."""
    for source_region, source, key in sources:
        try:
            info = dest.write(
                item.key,
                source.iter_read(key, chunk_size=dest.part_size),
                size_hint=item.size,
                expected_sha256=item.sha256,
                metadata=item.metadata,
                content_type=item.content_type,
            )
        except ObjectStoreError as exc:  # includes IntegrityError and ObjectNotFound: try the next copy
            log.warning("repair of %s from %s failed: %s", dest.url_for(item.key), source.url_for(key), exc)
            continue
        state.record_replicas([record_row(region, kind, item.owner, dest, item.key, info, item.sha256)])
        log.info("repaired %s from %s (%s)", dest.url_for(item.key), source.url_for(key), source_region)
        return source.url_for(key)
    return None


def alert(topology: Topology, region: str, kind: str, item: Wanted, url: str, verdict: Verdict, source: str | None):
    """ReplicaRepaired (and the object's ReplicaCorrupt resolved), or ReplicaCorrupt when no copy could repair it."""
    from multiregion.monitoring.alertmanager import AlertError, resolve_alert, send_alert

    labels = {"region": region, "kind": kind, "owner": item.owner, "object": item.key.rsplit("/", 1)[-1][:64]}
    am = topology.monitoring.alertmanager_url
    try:
        if source is None:
            send_alert(
                am,
                REPLICA_CORRUPT,
                labels,
                summary=f"{kind} {item.owner} in {region}: {verdict} object and no verified copy to repair it from",
                description=f"{url} (sha256 {item.sha256}, {item.size} bytes) is {verdict}; readers fail on it.",
            )
        else:
            resolve_alert(am, REPLICA_CORRUPT, labels)
            send_alert(
                am,
                REPLICA_REPAIRED,
                labels,
                summary=f"{kind} {item.owner} in {region}: {verdict} object repaired",
                description=f"{url} was {verdict}; rewritten from {source} and verified (sha256 {item.sha256}).",
                severity="warning",
            )
    except AlertError:
        log.exception("could not alert ops about %s", url)
