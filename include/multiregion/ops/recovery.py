"""Recovery of a drained region: restart it, resync what it missed, then (operators) restore traffic."""

from __future__ import annotations

import logging
from typing import Any

from multiregion.core import replica_layout as layout
from multiregion.core.datasets import load_catalog
from multiregion.core.errors import BadInputError
from multiregion.core.topology import load_topology
from multiregion.ops.regions import region_store, select_regions
from multiregion.state.postgres import StateStore
from multiregion.traffic.base import backend_for

log = logging.getLogger(__name__)
MAX_RESYNC_PARTITIONS = 31  # a month of daily partitions; older gaps are the nightly run's job


def prepare(region: str) -> dict[str, Any]:
    """Validate the region; its recorded original weight (restoration target) and current weight."""
    if not region:
        raise BadInputError("param 'region' is required")
    (reg,) = select_regions([region])
    topology = load_topology()
    recorded = StateStore().original_weights()
    original = recorded.get(region)
    current = backend_for(topology).get_weights()[region]
    if original is None:  # drained by hand, or the record was cleared: the topology's weight
        original = reg.traffic.weight
    # Nothing to do for a region that has traffic and no record of a drain (already restored, e.g.
    # by the recovery run queued before this one): recovering it again would cut its traffic.
    needed = region in recorded or current == 0
    return {
        "needed": needed,
        "region": region,
        "endpoint": reg.serving.endpoints[0],
        "original_weight": original,
        "current_weight": current,
        "prometheus_url": topology.monitoring.prometheus_url,
    }


def restart(region: str) -> str:
    """A rollout restart of the region's serving deployment (what `kubectl rollout restart` does),
    waited for. In the local world the kube-api emulator restarts the region's serving process
    through the world's controller when its deployment is restarted."""
    from multiregion.k8s import deployments

    (reg,) = select_regions([region])
    stamp = deployments.rollout_restart(reg)
    spec, ready = deployments.wait_ready(reg, timeout=600)
    return f"rollout restart of {reg.kubernetes.namespace}/{reg.kubernetes.deployment} at {stamp}: {ready}/{spec} ready"


def _published_versions(store, dataset: str) -> dict[str, str]:
    from multiregion.replication.publish import read_pointer

    versions = {}
    for info in store.list(layout.pointers_prefix(dataset)):
        partition = info.key.rsplit("/", 1)[-1].removesuffix(".json")
        pointer = read_pointer(store, dataset, partition)
        if pointer is not None:
            versions[partition] = pointer.version
    return versions


def missed_partitions(source: dict[str, str], replica: dict[str, str]) -> list[str]:
    """Partitions whose published source version the replica doesn't have (newest last)."""
    return sorted(p for p, version in source.items() if replica.get(p) != version)


def resync_requests(region: str, run_id: str) -> list[dict[str, Any]]:
    """The replication runs that bring ``region`` up to date: the serving model's alias (a no-op
    where it is current) and every dataset partition published at the source that it lacks."""
    (reg,) = select_regions([region])
    topology = load_topology()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)[-120:]
    from multiregion.registry.mlflow_registry import RegionRegistry

    requests = []
    model, alias = reg.serving.model, reg.serving.alias
    if RegionRegistry(topology.primary).alias_version(model, alias) is None:
        log.info("%s@%s is not in the primary registry: no model to resync", model, alias)
    else:
        requests.append(
            {
                "trigger_dag_id": "replicate_model",
                "trigger_run_id": f"resync__{region}__{safe}__model",
                "conf": {"model": model, "alias": alias, "promote_alias": alias},
            }
        )
    for dataset in load_catalog(topology).datasets:
        if region not in dataset.replicate_to:
            continue
        source = _published_versions(region_store(topology.region(dataset.source.region)), dataset.name)
        missed = missed_partitions(source, _published_versions(region_store(reg), dataset.name))
        if len(missed) > MAX_RESYNC_PARTITIONS:
            log.warning(
                "%s: %d partitions behind; resyncing the newest %d", dataset.name, len(missed), MAX_RESYNC_PARTITIONS
            )
            missed = missed[-MAX_RESYNC_PARTITIONS:]
        log.info("%s in %s: missed %s", dataset.name, region, missed or "nothing")
        if missed:
            partitions = missed if dataset.partitioned else []
            requests.append(
                {
                    "trigger_dag_id": "replicate_dataset",
                    "trigger_run_id": f"resync__{region}__{safe}__{dataset.name}",
                    "conf": {"dataset": dataset.name, "partitions": partitions, "regions": [region]},
                }
            )
    return requests


def set_region_weight(region: str, weight: int, action: str, reason: str, run_id: str | None) -> dict[str, Any]:
    """Change one region's weight, serialized with every other traffic change and audited."""
    topology = load_topology()
    backend = backend_for(topology)

    def apply():
        before = backend.get_weights()
        after = {**before, region: weight}
        backend.set_weights(after)
        return before, after

    return StateStore().change_traffic(region, action, reason, run_id, apply)


def finish_restore(region: str, run_id: str | None) -> None:
    """Restored: forget the recorded original (the next failure records afresh); RegionDown resolved,
    RegionRestored sent."""
    from multiregion.monitoring.alertmanager import resolve_alert, send_alert
    from multiregion.ops.failover import REGION_DOWN

    url = load_topology().monitoring.alertmanager_url
    StateStore().forget_original(region)
    resolve_alert(url, REGION_DOWN, {"region": region})
    weights = backend_for(load_topology()).get_weights()
    send_alert(
        url,
        RESTORED,
        {"region": region},
        f"{region} restored: traffic back at its recorded weight {weights[region]}",
        f"weights now {weights} (run {run_id})",
        severity="info",
    )


def alert_rollback(region: str, step_weight: int, reason: str, run_id: str | None) -> None:
    from multiregion.monitoring.alertmanager import send_alert

    send_alert(
        load_topology().monitoring.alertmanager_url,
        ROLLED_BACK,
        {"region": region},
        f"{region} regressed at weight {step_weight} during restoration: rolled back to 0",
        f"{reason} (run {run_id})",
    )


RESTORED = "RegionRestored"
ROLLED_BACK = "RestoreRolledBack"


def restart_if_down(region: str, endpoint: str) -> str:
    """Restart the region's serving unless it already answers healthy (a transient failure)."""
    import httpx

    try:
        if httpx.get(f"{endpoint.rstrip('/')}/health", timeout=2.0).status_code == 200:
            return f"{region} answers healthy: no restart"
    except httpx.HTTPError as exc:
        log.info("%s: %s", region, exc)
    return restart(region)
