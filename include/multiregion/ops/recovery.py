"""Recovery of a drained region: restart it, resync what it missed, then (operators) restore traffic."""

from __future__ import annotations

import logging
import time
from typing import Any

from multiregion.core.datasets import load_catalog
from multiregion.core.errors import BadInputError
from multiregion.core.naming import safe_name
from multiregion.core.topology import load_topology, select_regions
from multiregion.core.traffic_policy import ChangeKind
from multiregion.replication.publish import published_versions
from multiregion.stores.registry import region_store
from multiregion.traffic.controller import TrafficController

log = logging.getLogger(__name__)
MAX_RESYNC_PARTITIONS = 31  # a month of daily partitions; older gaps are the nightly run's job


def prepare(region: str) -> dict[str, Any]:
    """Validate the region; its recorded original weight (restoration target) and current weight."""
    if not region:
        raise BadInputError("param 'region' is required")
    (reg,) = select_regions([region])
    controller = TrafficController()
    topology = controller.topology
    recorded = controller.original_weights()
    if region in controller.state.maintenance():  # an operator holds it: no recovery until brought back
        log.info("%s is drained for maintenance: not recovered", region)
        return {"needed": False, "region": region, "maintenance": True}
    original = recorded.get(region)
    current = controller.weights()[region]
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


def missed_partitions(source: dict[str, str], replica: dict[str, str]) -> list[str]:
    """Partitions whose published source version the replica doesn't have (newest last)."""
    return sorted(p for p, version in source.items() if replica.get(p) != version)


def resync_requests(region: str, run_id: str) -> list[dict[str, Any]]:
    """The replication runs that bring ``region`` up to date: the serving model's alias (a no-op
    where it is current) and every dataset partition published at the source that it lacks."""
    (reg,) = select_regions([region])
    topology = load_topology()
    safe = safe_name(run_id, keep_last=120)
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
        source = published_versions(region_store(topology.region(dataset.source.region)), dataset.name)
        missed = missed_partitions(source, published_versions(region_store(reg), dataset.name))
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


def set_region_weight(region: str, weight: int, kind: ChangeKind, reason: str, run_id: str | None) -> dict[str, Any]:
    """Change one region's weight through the traffic controller (serialized, audited)."""
    return TrafficController().set_weight(region, weight, kind, reason, run_id)


def finish_restore(region: str, weights: dict[str, int], run_id: str | None) -> None:
    """Restored: forget the recorded original (the next failure records afresh); RegionDrained resolved,
    RegionRestored sent. ``weights``: as the last restoration step left them."""
    from multiregion.monitoring.alertmanager import resolve_alert, send_alert
    from multiregion.ops.failover import REGION_DRAINED

    controller = TrafficController()
    controller.finish_restoration(region)
    url = controller.topology.monitoring.alertmanager_url
    resolve_alert(url, REGION_DRAINED, {"region": region})
    send_alert(
        url,
        RESTORED,
        {"region": region},
        f"{region} restored: traffic back at its recorded weight {weights[region]}",
        f"weights now {weights} (run {run_id})",
        severity="info",
    )


def alert_rollback(region: str, step_weight: int, reason: str, run_id: str | None) -> None:
    """The rollback's time for the RestoreRolledBack rule (it fires for 30 minutes after)."""
    from multiregion.monitoring.pushgateway import push_gauges

    log.error("%s regressed at weight %s during restoration, rolled back to 0: %s (run %s)",
              region, step_weight, reason, run_id)  # fmt: skip
    push_gauges(
        load_topology().monitoring.pushgateway_url,
        "restoration",
        {"restore_rollback_timestamp_seconds": time.time()},
        {"region": region},
    )


RESTORED = "RegionRestored"
ROLLED_BACK = "RestoreRolledBack"


def restart_if_down(region: str, endpoint: str) -> str:
    """Restart the region's serving unless it already answers healthy (a transient failure)."""
    from multiregion.serving.health_client import is_healthy

    if is_healthy(endpoint):
        return f"{region} answers healthy: no restart"
    return restart(region)
