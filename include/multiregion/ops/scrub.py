"""Task bodies of the scrub_replicas DAG: verify every replica at rest, repair what is bad, report.

Per region: every object of every published dataset replica (from its manifests) and every model
artifact recorded there (copies, and the primary's originals). The cheap pass judges each against
its record from one listing; the deep pass reads and hashes the least recently verified share, so
that everything is read within ``deep_period_days``. A bad object is rewritten from another copy
with the same sha256 (another region's replica, or the dataset's source), verified before commit;
the published pointer is never touched and nothing is deleted, so the last good copy survives.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from multiregion.core import replica_layout as layout
from multiregion.core.datasets import load_catalog
from multiregion.core.errors import BadInputError, PermanentError
from multiregion.core.integrity import DEFAULT_DEEP_PERIOD_DAYS, deep_share
from multiregion.core.topology import load_topology
from multiregion.ops.replicate_dataset import listing, wanted_objects
from multiregion.replication import integrity
from multiregion.replication import publish as pub
from multiregion.state.postgres import StateStore
from multiregion.stores.errors import ObjectNotFound
from multiregion.stores.registry import region_store

log = logging.getLogger(__name__)


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    period = params.get("deep_period_days", DEFAULT_DEEP_PERIOD_DAYS)
    if not isinstance(period, int | float) or isinstance(period, bool) or period <= 0:
        raise BadInputError(f"param deep_period_days must be a number of days > 0, got {period!r}")
    return {"deep_period_days": float(period), "deep_all": bool(params.get("deep_all", False))}


def _dataset_targets(topology, catalog, region: str, store):
    """(wanted, listing, source per sha256) of every published dataset replica in the region."""
    for dataset in catalog.datasets:
        if region not in dataset.replicate_to:
            continue
        wanted: dict[str, integrity.Wanted] = {}
        sources: dict[str, tuple[str, str]] = {}
        for partition in pub.published_versions(store, dataset.name):
            pointer = pub.read_pointer(store, dataset.name, partition)
            if pointer is None or pointer.location != layout.LOCATION_OBJECTS:
                continue
            manifest = pub.read_manifest(store, pointer.manifest)
            for item in wanted_objects(dataset, manifest):
                wanted[item.key] = item
            for entry in manifest.entries:  # the producers' copy at the source, the last resort
                key = layout.entry_key(dataset, manifest.partition, layout.LOCATION_SOURCE, entry)
                sources.setdefault(entry.sha256, (dataset.source.region, key))
        if wanted:
            yield integrity.DATASET, list(wanted.values()), listing(store, dataset), sources


def _model_targets(state: StateStore, region: str, store):
    """Every model artifact recorded in the region, with a HEAD of each (they are few and large)."""
    records = state.replicas(region=region, kind=integrity.MODEL)
    wanted, seen = [], {}
    for url, rec in sorted(records.items()):
        if not url.startswith(store.url):
            continue
        key = url[len(store.url) :]
        wanted.append(integrity.Wanted(key, rec.sha256, rec.size, rec.owner))
        try:
            seen[key] = store.head(key)
        except ObjectNotFound:
            seen[key] = None
    if wanted:
        yield integrity.MODEL, wanted, seen, {}


def scrub_region(region_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check and repair one region's replicas; returns what was found (bad, repaired, not repairable)."""
    options = check_params(params)
    topology = load_topology()
    catalog = load_catalog(topology)
    region = topology.region(region_name)
    store = region_store(region)
    state = StateStore()
    targets = list(_dataset_targets(topology, catalog, region.name, store)) + list(
        _model_targets(state, region.name, store)
    )
    everything = [item for _, wanted, _, _ in targets for item in wanted]
    records = state.replicas([store.url_for(i.key) for i in everything])
    last_read = {i.key: records[store.url_for(i.key)].verified_at if store.url_for(i.key) in records else 0.0
                 for i in everything}  # fmt: skip
    deep = set(last_read) if options["deep_all"] else set(deep_share(last_read, options["deep_period_days"]))

    report: dict[str, Any] = {"region": region.name, "objects": len(everything), "read_objects": 0, "read_bytes": 0,
                              "bad": [], "repaired": [], "unrepairable": []}  # fmt: skip
    for kind, wanted, seen, source_of in targets:
        checked = integrity.check(state, region.name, kind, store, wanted, seen, deep=deep)
        report["read_objects"] += checked.read_objects
        report["read_bytes"] += checked.read_bytes
        for item, verdict in checked.bad:
            url = store.url_for(item.key)
            sources = integrity.recorded_sources(state, topology, item.sha256, url)
            if item.sha256 in source_of:
                src_region, src_key = source_of[item.sha256]
                sources.append((src_region, region_store(topology.region(src_region)), src_key))
            repaired_from = integrity.repair(state, region.name, kind, store, item, sources)
            integrity.alert(topology, region.name, kind, item, url, verdict, repaired_from)
            row = {"kind": kind, "owner": item.owner, "url": url, "verdict": str(verdict), "from": repaired_from}
            report["bad"].append(row)
            report["repaired" if repaired_from else "unrepairable"].append(row)
    after = state.replicas([store.url_for(i.key) for i in everything])
    now = time.time()
    report["oldest_verified_age_seconds"] = max((now - r.verified_at for r in after.values()), default=0.0)
    report["never_verified"] = len(everything) - len(after)
    log.info(
        "%s: %d objects, %d read (%d bytes), %d bad, %d repaired, %d not repairable",
        region.name, report["objects"], report["read_objects"], report["read_bytes"], len(report["bad"]),
        len(report["repaired"]), len(report["unrepairable"]),
    )  # fmt: skip
    return report


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Push each region's figures; fail when anything could not be repaired (ReplicaCorrupt is firing)."""
    from multiregion.monitoring.pushgateway import push_gauges

    topology = load_topology()
    for r in results:
        push_gauges(
            topology.monitoring.pushgateway_url,
            "scrub_replicas",
            {
                "scrub_objects": r["objects"],
                "scrub_read_objects": r["read_objects"],
                "scrub_read_bytes": r["read_bytes"],
                "scrub_bad_objects": len(r["bad"]),
                "scrub_repaired_objects": len(r["repaired"]),
                "scrub_unrepairable_objects": len(r["unrepairable"]),
                "scrub_oldest_verified_age_seconds": r["oldest_verified_age_seconds"],
                "scrub_last_success_timestamp_seconds": time.time(),
            },
            {"region": r["region"]},
        )
    lost = [row["url"] for r in results for row in r["unrepairable"]]
    if lost:
        raise PermanentError(f"{len(lost)} replica object(s) bad with no verified copy to repair from: {lost}")
    return {
        "regions": {r["region"]: {k: v if not isinstance(v, list) else len(v) for k, v in r.items()} for r in results}
    }
