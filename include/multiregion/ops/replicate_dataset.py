"""Task bodies of the dataset-replication DAG: plan → replicate → validate → publish → report.

A work item is one (dataset, partition, destination region). Items are JSON-simple dicts so they
travel through XCom and map over tasks; every step is idempotent and safe to re-run.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from multiregion.core import replica_layout as layout
from multiregion.core.datasets import DEFAULT_LAG_SLO_MINUTES, Catalog, Dataset, load_catalog
from multiregion.core.egress import route_key
from multiregion.core.errors import BadInputError, PermanentError
from multiregion.core.integrity import Verdict
from multiregion.core.manifest import plan_copy
from multiregion.core.topology import Topology, load_topology
from multiregion.replication import integrity, ledger
from multiregion.replication import publish as pub
from multiregion.replication.copy import CorruptObjectError, copy_entries
from multiregion.replication.route import choose_source, source_location, source_route
from multiregion.replication.scan import scan_partition
from multiregion.state.postgres import StateStore
from multiregion.stores.errors import ObjectNotFound
from multiregion.stores.registry import region_store

log = logging.getLogger(__name__)
PARQUET = "application/vnd.apache.parquet"


class ReplicaValidationError(PermanentError):
    pass


def _world() -> tuple[Topology, Catalog]:
    topology = load_topology()
    return topology, load_catalog(topology)


def _store(topology: Topology, region: str):
    return region_store(topology.region(region))


# --- plan ---------------------------------------------------------------------------------------


def resolve_requests(
    catalog: Catalog,
    params: dict[str, Any],
    asset_events: list[dict[str, Any]],
    logical_date: datetime | None,
) -> list[tuple[Dataset, str, list[str]]]:
    """(dataset, partition, target regions) to replicate, from params, asset events or the date."""
    requests: list[tuple[Dataset, list[str]]] = []
    if params.get("dataset"):
        dataset = catalog.get(params["dataset"])
        partitions = params.get("partitions") or []
        if not partitions:
            partitions = [logical_date.date().isoformat()] if dataset.partitioned and logical_date else [None]
        requests.append((dataset, partitions))
    elif asset_events:
        for event in asset_events:
            dataset = catalog.get(event.get("dataset") or "")
            requests.append((dataset, [event.get("partition")]))
    else:  # scheduled run or backfill: every dataset, the logical date's partition
        day = logical_date.date().isoformat() if logical_date else None
        requests += [(d, [day if d.partitioned else None]) for d in catalog.datasets if d.nightly]
    wanted_regions = params.get("regions") or []
    out = []
    for dataset, partitions in requests:
        unknown = [r for r in wanted_regions if r not in dataset.replicate_to]
        if unknown:
            raise BadInputError(
                f"region(s) {unknown} are not replication targets of dataset {dataset.name!r} "
                f"(targets: {dataset.replicate_to})"
            )
        targets = wanted_regions or dataset.replicate_to
        for partition in partitions:
            out.append((dataset, dataset.partition_for(partition), list(targets)))
    return out


def plan(params: dict[str, Any], asset_events: list[dict[str, Any]], logical_date: datetime | None) -> list[dict]:
    """Scan each requested partition at its source and publish its source manifest; one item per target."""
    topology, catalog = _world()
    requests = resolve_requests(catalog, params, asset_events, logical_date)
    items = []
    for dataset, partition, targets in requests:
        store = _store(topology, dataset.source.region)
        previous = pub.published_manifest(store, dataset.name, partition)
        manifest = scan_partition(dataset, partition, store, previous, now=lambda: datetime.now(UTC))
        pub.publish(store, manifest, pub.LOCATION_SOURCE)
        log.info(
            "%s/%s: version %s (%d objects, %d bytes, %d rows) at %s",
            dataset.name, partition, manifest.version, len(manifest.entries), manifest.total_bytes,
            manifest.rows, dataset.source.region,
        )  # fmt: skip
        for region in targets:
            items.append(
                {
                    "dataset": dataset.name,
                    "partition": partition,
                    "region": region,
                    "version": manifest.version,
                    "manifest_key": layout.manifest_key(dataset.name, partition, manifest.version),
                    "source_region": dataset.source.region,
                }
            )
    return items


# --- replicate ----------------------------------------------------------------------------------


def replicate(item: dict[str, Any], *, parallel: int = 8) -> dict[str, Any]:
    """Copy what the destination lacks for the item's version, from the cheapest region holding it.

    Present objects are trusted only when they match what was recorded as they were written (or
    read back and verified now); damaged ones are copied again, the published pointer untouched."""
    topology, catalog = _world()
    dataset = catalog.get(item["dataset"])
    manifest = pub.read_manifest(_store(topology, item["source_region"]), item["manifest_key"])
    dest_region = topology.region(item["region"])
    dest = region_store(dest_region)
    current = pub.read_pointer(dest, dataset.name, manifest.partition)
    state = StateStore()
    checked = integrity.check(
        state, dest_region.name, integrity.DATASET, dest, wanted_objects(dataset, manifest), listing(dest, dataset)
    )
    verified = {w.sha256 for w in checked.good}
    copy_plan = plan_copy(manifest, dest_region.name, current.version if current else None, verified)
    result = {
        **item,
        "up_to_date": copy_plan.up_to_date,
        "objects_present": copy_plan.already_present,
        "objects_read_back": checked.read_objects,
    }
    if copy_plan.up_to_date or not copy_plan.to_copy:
        return {**result, "objects_copied": 0, "bytes_copied": 0, "seconds": 0.0, "route": None, "repaired": 0}
    damaged = _damaged(dest, current, checked)

    # The manifest goes first: it protects the objects of this copy from a concurrent GC.
    pub.write_manifest(dest, manifest)
    written_keys: set[str] = set()
    written_bytes: list[int] = []

    def record(written) -> None:
        written_keys.update(key for _, key, _ in written)
        written_bytes.extend(e.size for e, _, _ in written)
        state.record_replicas(
            [
                integrity.record_row(dest_region.name, integrity.DATASET, dataset.name, dest, key, info, e.sha256)
                for e, key, info in written
            ]
        )

    def copy_from(route):
        location = source_location(dataset, route)
        todo = [e for e in copy_plan.to_copy if layout.object_key(dataset.name, e.sha256) not in written_keys]
        stats = copy_entries(
            todo,
            _store(topology, route.source_region),
            lambda e: layout.entry_key(dataset, manifest.partition, location, e),
            dest,
            lambda e: layout.object_key(dataset.name, e.sha256),
            parallel=parallel,
            metadata={"dataset": dataset.name},
            on_written=record,
        )
        return stats, location

    route = choose_source(topology, dataset, manifest, dest_region.name)
    try:
        stats, location = copy_from(route)
    except (CorruptObjectError, ObjectNotFound) as exc:
        if route.source_region == dataset.source.region:
            raise
        # The replica chosen as the cheapest source is itself damaged: its scrub repairs it; copy
        # what is left from the source itself.
        log.warning("%s: copy from %s failed (%s); from the source", dest_region.name, route.source_region, exc)
        route = source_route(topology, dataset, dest_region.name)
        stats, location = copy_from(route)
    stats.objects_copied, stats.bytes_copied = len(written_keys), sum(written_bytes)  # both attempts
    source = _store(topology, route.source_region)
    for wanted, verdict in damaged:
        integrity.alert(
            topology, dest_region.name, integrity.DATASET, wanted, dest.url_for(wanted.key), verdict,
            source.url_for(layout.entry_key(dataset, manifest.partition, location, _entry(manifest, wanted.sha256))),
        )  # fmt: skip
    log.info(
        "%s/%s -> %s: copied %d objects (%d bytes, %d of them repairs) from %s in %.1fs; %d already present",
        dataset.name, manifest.partition, dest_region.name, stats.objects_copied, stats.bytes_copied, len(damaged),
        route.source_region, stats.seconds, copy_plan.already_present,
    )  # fmt: skip
    return {
        **result,
        **stats.to_dict(),
        "repaired": len(damaged),
        "route": {"source_region": route.source_region, "key": route_key(route), "price_per_gb": route.price_per_gb},
    }


def wanted_objects(dataset: Dataset, manifest) -> list[integrity.Wanted]:
    """The content-addressed objects a replica of ``manifest`` holds (one per distinct digest)."""
    unique = {e.sha256: e for e in manifest.entries}
    return [
        integrity.Wanted(
            layout.object_key(dataset.name, sha), sha, e.size, dataset.name, PARQUET, {"dataset": dataset.name}
        )
        for sha, e in sorted(unique.items())
    ]


def listing(store, dataset: Dataset) -> dict:
    return {info.key: info for info in store.list(layout.objects_prefix(dataset.name))}


def _entry(manifest, sha256: str):
    return next(e for e in manifest.entries if e.sha256 == sha256)


def _damaged(dest, current, checked: integrity.Checked) -> list[tuple[integrity.Wanted, Verdict]]:
    """Objects that were there and are bad, or that the published version needs and are gone
    (as opposed to objects a new version simply does not have yet)."""
    missing = [(w, v) for w, v in checked.bad if v is Verdict.MISSING]
    published = pub.read_manifest(dest, current.manifest).digests if current and missing else set()
    return [(w, v) for w, v in checked.bad if v is not Verdict.MISSING or w.sha256 in published]


# --- validate -----------------------------------------------------------------------------------


def validate(item: dict[str, Any]) -> dict[str, Any]:
    """Great Expectations on the replica as copied (before publishing); alert and fail on failure."""
    if item.get("up_to_date"):
        return {**item, "validation": "already published"}
    import pyarrow as pa
    import pyarrow.parquet as pq

    from multiregion.replication.validation import validate_table

    topology, catalog = _world()
    dataset = catalog.get(item["dataset"])
    manifest = pub.read_manifest(_store(topology, item["source_region"]), item["manifest_key"])
    dest = _store(topology, item["region"])
    tables = [
        pq.read_table(pa.BufferReader(b"".join(dest.iter_read(layout.object_key(dataset.name, e.sha256)))))
        for e in manifest.entries
    ]
    report = validate_table(
        pa.concat_tables(tables),
        dataset=dataset.name,
        region=item["region"],
        partition=manifest.partition,
        expected_rows=manifest.rows,
        expected_fields=[tuple(f) for f in manifest.schema_fields],
        expectations=[(e.type, e.kwargs) for e in dataset.expectations],
    )
    log.info("validation of %s/%s in %s:\n%s", dataset.name, manifest.partition, item["region"], report.summary())
    if not report.success:
        _alert_validation_failure(topology, item, report.summary())
        raise ReplicaValidationError(
            f"replica of {dataset.name}/{manifest.partition} v{manifest.version} in {item['region']} failed "
            f"validation; not published:\n{report.summary()}"
        )
    return {**item, "validation": "passed", "expectations": len(report.results)}


def _alert_validation_failure(topology: Topology, item: dict[str, Any], summary: str) -> None:
    from multiregion.monitoring.alertmanager import AlertError, send_alert

    try:
        send_alert(
            topology.monitoring.alertmanager_url,
            "ReplicaValidationFailed",
            {"dataset": item["dataset"], "region": item["region"], "partition": item["partition"]},
            summary=f"Replica of {item['dataset']}/{item['partition']} in {item['region']} failed validation",
            description=summary,
        )
    except AlertError:
        log.exception("could not alert ops")  # the task still fails loudly


# --- publish ------------------------------------------------------------------------------------


def publish(item: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest, then the pointer (atomic publish); collect superseded versions."""
    topology, catalog = _world()
    dataset = catalog.get(item["dataset"])
    dest = _store(topology, item["region"])
    if item.get("up_to_date"):  # already published at this version: nothing to write or collect
        pointer = pub.read_pointer(dest, dataset.name, item["partition"])
        if pointer is not None and pointer.version == item["version"]:
            return {
                **item,
                "published_at": pointer.published_at,
                "lag_seconds": 0.0,
                "gc": {"manifests": 0, "objects": 0, "bytes": 0},
                "replica_uri": dest.url_for(layout.pointer_key(dataset.name, item["partition"])),
            }
    manifest = pub.read_manifest(_store(topology, item["source_region"]), item["manifest_key"])
    missing = manifest.digests - pub.present_digests(dest, dataset.name)
    if missing:  # never publish a manifest whose objects aren't all there
        raise PermanentError(f"{item['region']}: {len(missing)} object(s) of version {manifest.version} missing")
    pointer = pub.publish(dest, manifest, pub.LOCATION_OBJECTS)
    gc = pub.collect_garbage(dest, dataset.name, dataset.retention.keep_versions, dataset.retention.min_age_hours)
    lag = (datetime.fromisoformat(pointer.published_at) - datetime.fromisoformat(manifest.created_at)).total_seconds()
    return {
        **item,
        "published_at": pointer.published_at,
        "lag_seconds": max(lag, 0.0),
        "gc": {"manifests": gc.manifests_deleted, "objects": gc.objects_deleted, "bytes": gc.bytes_freed},
        "replica_uri": dest.url_for(layout.pointer_key(dataset.name, manifest.partition)),
    }


# --- report -------------------------------------------------------------------------------------


def report(items: list[dict] | None, published: list[dict], run_id: str) -> dict[str, Any]:
    """Record bytes per route for the cost analyzer, push metrics; fail if any replica wasn't published."""
    from multiregion.monitoring.pushgateway import push_gauges

    if items is None:
        raise PermanentError("planning failed (see the plan task's log): nothing was replicated")
    topology, catalog = _world()
    slo_minutes = {d.name: d.lag_slo_minutes for d in catalog.datasets}
    done = {(p["dataset"], p["partition"], p["region"]): p for p in published}
    primary = region_store(topology.primary)
    routes: dict[str, dict[str, float]] = {}
    for rep in published:
        if rep.get("route"):
            row = routes.setdefault(rep["route"]["key"], {"bytes": 0, "cost_usd": 0.0})
            row["bytes"] += rep["bytes_copied"]
            row["cost_usd"] += rep["bytes_copied"] / 1e9 * rep["route"]["price_per_gb"]
            ledger.record(
                primary,
                kind="dataset",
                name=rep["dataset"],
                partition=rep["partition"],
                source_region=rep["route"]["source_region"],
                dest_region=rep["region"],
                nbytes=rep["bytes_copied"],
                run_id=run_id,
                extra=rep,
            )
        push_gauges(
            topology.monitoring.pushgateway_url,
            "replicate_dataset",
            {
                "replication_bytes_copied": rep.get("bytes_copied", 0),
                "replication_objects_copied": rep.get("objects_copied", 0),
                "replication_copy_seconds": rep.get("seconds", 0.0),
                "replication_lag_seconds": rep.get("lag_seconds", 0.0),
                "replication_lag_slo_seconds": slo_minutes.get(rep["dataset"], DEFAULT_LAG_SLO_MINUTES) * 60,
                "replication_last_success_timestamp_seconds": time.time(),
            },
            {"dataset": rep["dataset"], "region": rep["region"], "partition": rep["partition"]},
        )
    for route, row in routes.items():
        push_gauges(
            topology.monitoring.pushgateway_url,
            "replicate_dataset_routes",
            {"replication_route_bytes": row["bytes"], "replication_route_cost_usd": row["cost_usd"]},
            {"route": route},
        )
    missing = [f"{i['dataset']}/{i['partition']} -> {i['region']}" for i in items
               if (i["dataset"], i["partition"], i["region"]) not in done]  # fmt: skip
    if missing:
        raise PermanentError(f"{len(missing)} of {len(items)} replica(s) not published (see their tasks): {missing}")
    return {"items": len(items), "published": len(published), "routes": routes}
