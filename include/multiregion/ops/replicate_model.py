"""Task bodies of the model-replication DAG: resolve → replicate per region → promote everywhere.

Artifacts are copied store-to-store with the dataset replication's copy-and-verify machinery
(streamed, parallel, sha256 verified before commit); the copy is registered in the regional
registry with a lineage tag that is also the idempotency key, then loaded and smoke-tested
there. Only when every region has verified does the alias move — in all regions.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from multiregion.core.datasets import DEFAULT_LAG_SLO_MINUTES
from multiregion.core.errors import PermanentError
from multiregion.core.manifest import ManifestEntry
from multiregion.core.model_lineage import (
    LINEAGE_KEY,
    VERIFIED,
    artifact_digest,
    copyable_tags,
    lag_slo_minutes,
    lineage_tags,
    parse_request,
    plan_promotion,
)
from multiregion.core.topology import Region, load_topology
from multiregion.registry.mlflow_registry import RegionRegistry, artifact_key_prefix
from multiregion.replication import integrity
from multiregion.replication.copy import copy_entries
from multiregion.serving.health_client import get_health
from multiregion.state.postgres import StateStore
from multiregion.stores.registry import region_store

log = logging.getLogger(__name__)


class PromotionError(PermanentError):
    pass


def _hash(store, key: str) -> str:
    digest = integrity.sha256_of(store, key)
    if digest is None:
        raise PermanentError(f"{store.url_for(key)} vanished while the version's artifacts were read")
    return digest


def resolve(params: dict[str, Any]) -> dict[str, Any]:
    """Validate params, resolve the version in the primary registry, digest its artifacts."""
    request = parse_request(params)
    topology = load_topology()
    primary = topology.primary
    source = RegionRegistry(primary).resolve(request.model, request.version, request.alias)
    store = region_store(primary)
    prefix = artifact_key_prefix(primary, source.artifact_location)
    infos = list(store.list(prefix))
    listed = [(info.key, info.key[len(prefix) :], info.size) for info in infos]
    if not listed:
        raise PermanentError(f"{request.model} v{source.version}: no artifacts under {store.url_for(prefix)}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = list(pool.map(lambda item: _hash(store, item[0]), listed))
    files = [{"path": rel, "size": size, "sha256": sha} for (_, rel, size), sha in zip(listed, digests, strict=True)]
    _record_originals(primary.name, f"{source.name}/v{source.version}", store, infos, digests)
    digest = artifact_digest((f["path"], f["sha256"]) for f in files)
    log.info(
        "%s v%s (%s): %d artifact files, %d bytes, digest %s",
        source.name, source.version, source.model_id, len(files), sum(f["size"] for f in files), digest,
    )  # fmt: skip
    return {
        "model": source.name,
        "version": source.version,
        "promote_alias": request.promote_alias,
        "promote": request.promote,
        "source_region": primary.name,
        "source_prefix": prefix,
        "files": files,
        "lineage": lineage_tags(primary.registry.uri, source.name, source.version, digest),
        "description": source.description,
        "tags": copyable_tags(source.tags),
        "created_ms": source.created_ms,
        "logged_model_name": source.logged_model_name,
        "registered_model_description": source.registered_model_description,
        "registered_model_tags": copyable_tags(source.registered_model_tags),
        "lag_slo_minutes": lag_slo_minutes(source.registered_model_tags),
        "regions": topology.region_names,
    }


def _record_originals(region: str, owner: str, store, infos, digests: list[str]) -> None:
    """Record the primary's artifacts as just read (the scrub checks them and repairs from them);
    an artifact whose bytes differ from an earlier record was damaged, and is not replicated."""
    state = StateStore()
    before = state.replicas([store.url_for(i.key) for i in infos])
    changed = [i.key for i, sha in zip(infos, digests, strict=True) if store.url_for(i.key) in before
               and before[store.url_for(i.key)].sha256 != sha]  # fmt: skip
    if changed:
        raise PermanentError(
            f"{owner}: artifact(s) {changed} in {region} differ from the bytes recorded when first read "
            "(damaged at rest); scrub_replicas repairs them from a regional copy"
        )
    state.record_replicas(
        [
            integrity.record_row(region, integrity.MODEL, owner, store, i.key, i, sha)
            for i, sha in zip(infos, digests, strict=True)
        ]
    )


def replicate_to(spec: dict[str, Any], region_name: str, run_id: str = "manual") -> dict[str, Any]:
    """Give ``region_name`` a verified copy of the version (idempotent); returns its regional version."""
    topology = load_topology()
    region = topology.region(region_name)
    registry = RegionRegistry(region)
    model = spec["model"]
    if region.name == spec["source_region"]:
        version, copied = spec["version"], 0
    else:
        version, copied = _copy_and_register(spec, region, registry, topology.region(spec["source_region"]))
        if copied:  # the cost analyzer prices what moved (route ledger)
            from multiregion.replication import ledger

            ledger.record(
                region_store(topology.primary),
                kind="model",
                name=model,
                partition=f"v{spec['version']}",
                source_region=spec["source_region"],
                dest_region=region.name,
                nbytes=copied,
                run_id=run_id,
            )
    mv = registry.client.get_model_version(model, version)
    smoke = None
    if (mv.tags or {}).get(VERIFIED) != "true":
        smoke = registry.smoke_test(model, version)
        registry.set_version_tag(model, version, VERIFIED, "true")
    log.info("%s: %s v%s verified (copied %d bytes, smoke %s)", region.name, model, version, copied, smoke)
    return {"region": region.name, "version": version, "verified": True, "bytes_copied": copied, "smoke": smoke}


def _copy_and_register(spec: dict, region: Region, registry: RegionRegistry, source_region: Region) -> tuple[str, int]:
    model, lineage = spec["model"], spec["lineage"]
    existing = registry.versions_with_tag(model, LINEAGE_KEY, lineage[LINEAGE_KEY])
    experiment = registry.replication_experiment()
    logged = registry.logged_model_with_tag(experiment, LINEAGE_KEY, lineage[LINEAGE_KEY])
    if existing and logged is None:  # registered by hand, outside replication: nothing of ours to check
        return str(existing[0].version), 0
    if not existing:
        registry.ensure_registered_model(model, spec["registered_model_description"], spec["registered_model_tags"])
        logged = logged or registry.create_logged_model(experiment, spec["logged_model_name"], lineage)
    dest = region_store(region)
    dest_prefix = artifact_key_prefix(region, logged.artifact_location)
    # Resume or re-run: files already there count only when they match their record (or read back
    # verified); a damaged artifact of a registered copy is rewritten in place.
    checked = _check_artifacts(spec, region, dest, dest_prefix)
    bad = {w.key for w, _ in checked.bad}
    missing = [e for e in _entries(spec) if dest_prefix + e.path in bad]
    stats = copy_entries(
        missing,
        region_store(source_region),
        lambda e: spec["source_prefix"] + e.path,
        dest,
        lambda e: dest_prefix + e.path,
        parallel=4,
        content_type=None,
        on_written=lambda written: record_artifacts(spec, region.name, dest, written),
    )
    if existing:
        for wanted, verdict in checked.bad:
            integrity.alert(
                load_topology(), region.name, integrity.MODEL, wanted, dest.url_for(wanted.key), verdict,
                region_store(source_region).url_for(spec["source_prefix"] + wanted.key[len(dest_prefix) :]),
            )  # fmt: skip
        return str(existing[0].version), stats.bytes_copied
    if str(getattr(logged.status, "name", logged.status)) != "READY":
        registry.finalize_logged_model(logged.model_id)
    version = registry.register(model, logged.model_id, spec["description"], {**spec["tags"], **lineage})
    return version, stats.bytes_copied


def _entries(spec: dict) -> list[ManifestEntry]:
    return [ManifestEntry(f["path"], f["size"], f["sha256"]) for f in spec["files"]]


def owner(spec: dict) -> str:
    return f"{spec['model']}/v{spec['version']}"


def _check_artifacts(spec: dict, region: Region, store, prefix: str) -> integrity.Checked:
    wanted = [integrity.Wanted(prefix + e.path, e.sha256, e.size, owner(spec)) for e in _entries(spec)]
    listing = {info.key: info for info in store.list(prefix)}
    return integrity.check(StateStore(), region.name, integrity.MODEL, store, wanted, listing)


def record_artifacts(spec: dict, region: str, store, written) -> None:
    StateStore().record_replicas(
        [
            integrity.record_row(region, integrity.MODEL, owner(spec), store, key, info, e.sha256)
            for e, key, info in written
        ]
    )


def promote(spec: dict[str, Any], results: list[dict], failures: list[dict]) -> dict[str, Any]:
    """Move the alias in every region, or in none: a failure rolls back the aliases already moved."""
    alias, model = spec["promote_alias"], spec["model"]
    plan = plan_promotion(
        spec["regions"], {r["region"]: r for r in results}, {f["region"]: f["error"] for f in failures}
    )
    if not plan.ready:
        why = "; ".join(f"{region}: {reason}" for region, reason in sorted(plan.failed.items()))
        raise PromotionError(f"alias {alias!r} of {model} not moved in any region — {why}")
    if not spec.get("promote", True):
        log.info("%s v%s staged (registered and verified) in every region; no alias moved", model, spec["version"])
        return {"model": model, "alias": None, "versions": plan.moves, "moved": [], "staged": True, "served_at": {}}
    topology = load_topology()
    registries = {name: RegionRegistry(topology.region(name)) for name in plan.moves}
    previous = {name: reg.alias_version(model, alias) for name, reg in registries.items()}
    moved: list[str] = []
    try:
        for name, version in plan.moves.items():
            if registries[name].set_alias(model, alias, version):
                moved.append(name)
    except Exception as exc:
        for name in moved:  # best effort: put every alias back where it was
            if previous[name]:
                registries[name].client.set_registered_model_alias(model, alias, previous[name])
            else:
                registries[name].client.delete_registered_model_alias(model, alias)
        raise PromotionError(f"moving alias {alias!r} failed in a region ({exc}); rolled back {moved}") from exc
    live = _wait_until_served(topology, model, alias, plan.moves)
    _push_lag(topology, model, spec["created_ms"], live, spec.get("lag_slo_minutes", DEFAULT_LAG_SLO_MINUTES))
    return {"model": model, "alias": alias, "versions": plan.moves, "moved": moved, "served_at": live}


def _wait_until_served(topology, model: str, alias: str, versions: dict[str, str], timeout: float = 120) -> dict:
    """When each region's serving endpoint reports the new version (the alias is 'live' there)."""
    live: dict[str, float] = {}
    # Regions whose endpoint serves another model or alias are live as soon as the alias moved.
    for name in versions:
        serving = topology.region(name).serving
        if (serving.model, serving.alias) != (model, alias):
            live[name] = time.time()
    deadline = time.monotonic() + timeout
    while len(live) < len(versions) and time.monotonic() < deadline:
        for name, version in versions.items():
            if name in live:
                continue
            try:
                region = topology.region(name)
                health = get_health(region.serving.endpoints[0])
            except (httpx.HTTPError, ValueError):
                continue
            if str(health.get("version")) == str(version):
                live[name] = time.time()
        time.sleep(1)
    missing = sorted(set(versions) - set(live))
    if missing:
        log.warning("serving in %s did not report the new version within %.0fs", missing, timeout)
    return live


def _push_lag(topology, model: str, created_ms: int, live: dict[str, float], slo_minutes: float) -> None:
    from multiregion.monitoring.pushgateway import push_gauges

    for region, at in live.items():
        push_gauges(
            topology.monitoring.pushgateway_url,
            "replicate_model",
            {
                "model_replication_lag_seconds": max(0.0, at - created_ms / 1000),
                "model_replication_lag_slo_seconds": slo_minutes * 60,
                "model_promoted_timestamp_seconds": at,
            },
            {"model": model, "region": region},
        )
