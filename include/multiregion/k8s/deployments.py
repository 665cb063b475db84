"""A region's serving Deployment: read, scale, restart and wait, through ``KubernetesHook``.

The region's ``kubernetes`` block in the topology names the connection, namespace and
deployment; the connection (e.g. a ``kube_config`` extra) says where the cluster is. Errors name
the region, namespace and deployment, and the client's exception stays as ``__cause__``.
The kubernetes client is imported inside functions: DAG files import this module.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from multiregion.core.errors import PermanentError
from multiregion.core.topology import Region

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"  # what `kubectl rollout restart` sets
T = TypeVar("T")


class DeploymentError(RuntimeError):
    def __init__(self, region: Region, message: str, name: str | None = None) -> None:
        k = region.kubernetes
        self.region, self.namespace, self.deployment = region.name, k.namespace, name or k.deployment
        super().__init__(
            f"region {region.name}: deployment {k.namespace}/{self.deployment} (connection {k.conn_id}): {message}"
        )


class DeploymentNotFound(DeploymentError, PermanentError):
    """The deployment (or namespace) does not exist: a topology or cluster set-up problem."""


class ClusterUnavailable(DeploymentError):
    """The API server could not be reached or answered with a server error: worth retrying."""


class RolloutTimeout(DeploymentError):
    pass


def _apps_api(region: Region) -> Any:
    """The region's AppsV1Api, one per process and connection (a hook loads its kubeconfig each
    time it is built, which a scaling pass over many Deployments would pay on every call)."""
    conn_id = region.kubernetes.conn_id
    return _cached_api(conn_id, os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"), os.getpid())


@functools.lru_cache(maxsize=16)
def _cached_api(conn_id: str, *_identity: object) -> Any:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from kubernetes import client

    # A Configuration of its own: otherwise the hook loads the kubeconfig into the client's
    # process-wide default, shared by every region's hook in the process.
    hook = KubernetesHook(conn_id=conn_id, client_configuration=client.Configuration())
    return client.AppsV1Api(api_client=hook.get_conn())


def _call(region: Region, what: str, fn: Callable[[Any], T], api: Any = None, name: str | None = None) -> T:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return fn(api if api is not None else _apps_api(region))
    except ApiException as exc:
        detail = f"{what} failed: HTTP {exc.status} {exc.reason}"
        if exc.status == 404:
            raise DeploymentNotFound(region, f"not found ({what})", name) from exc
        if exc.status is not None and (exc.status >= 500 or exc.status == 429):
            raise ClusterUnavailable(region, detail, name) from exc
        raise DeploymentError(region, f"{detail}: {(exc.body or '')[:300]}", name) from exc
    except HTTPError as exc:
        raise ClusterUnavailable(region, f"{what} failed: cluster API unreachable ({exc})", name) from exc


def _read(region: Region, api: Any = None) -> Any:
    k = region.kubernetes
    return _call(region, "read", lambda a: a.read_namespaced_deployment(k.deployment, k.namespace), api)


def _spec_replicas(dep: Any) -> int:
    return 1 if dep.spec.replicas is None else dep.spec.replicas  # Kubernetes' default


def replicas(region: Region) -> tuple[int, int]:
    """(spec replicas, ready replicas) of the region's deployment."""
    dep = _read(region)
    ready = (dep.status.ready_replicas or 0) if dep.status else 0
    return _spec_replicas(dep), ready


def scale(region: Region, replicas: int, name: str | None = None) -> bool:
    """Set the deployment's replicas through the scale subresource; False (and no write) if already so.

    ``replicas`` must be within 0..max_replicas of the topology: a guard against a runaway plan.
    ``name``: another deployment of the region's namespace (default: its serving deployment).
    """
    k, name = region.kubernetes, name or region.kubernetes.deployment
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= k.max_replicas:
        raise ValueError(f"region {region.name}: replicas must be an integer in 0..{k.max_replicas}, got {replicas!r}")
    api = _apps_api(region)
    read = _call(region, "read scale", lambda a: a.read_namespaced_deployment_scale(name, k.namespace), api, name)
    if read.spec.replicas == replicas:
        return False
    body = {"spec": {"replicas": replicas}}
    _call(region, "scale", lambda a: a.patch_namespaced_deployment_scale(name, k.namespace, body), api, name)
    return True


@dataclass(frozen=True)
class DeploymentInfo:
    name: str
    replicas: int
    created_at: datetime | None
    annotations: dict[str, str]


def list_deployments(region: Region) -> list[DeploymentInfo]:
    """Every deployment of the region's namespace: name, spec replicas, creation time, annotations."""
    k = region.kubernetes
    found = _call(region, "list", lambda a: a.list_namespaced_deployment(k.namespace))
    return [
        DeploymentInfo(
            d.metadata.name,
            _spec_replicas(d),
            d.metadata.creation_timestamp,
            dict(d.metadata.annotations or {}),
        )
        for d in found.items
    ]


def annotate(region: Region, name: str, annotations: dict[str, str | None]) -> None:
    """Set (or, with None, remove) annotations on a deployment (a merge patch: others are kept)."""
    k = region.kubernetes
    body = {"metadata": {"annotations": annotations}}
    _call(region, "annotate", lambda a: a.patch_namespaced_deployment(name, k.namespace, body), name=name)


def rollout_restart(region: Region) -> str:
    """Restart every pod, as ``kubectl rollout restart`` does; returns the restartedAt value set."""
    k = region.kubernetes
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    _call(region, "rollout restart", lambda a: a.patch_namespaced_deployment(k.deployment, k.namespace, body))
    return stamp


def _rolled_out(dep: Any) -> bool:
    # `kubectl rollout status`: the controller saw the latest spec and every replica is new and ready.
    status, want = dep.status, _spec_replicas(dep)
    if status is None or (status.observed_generation or 0) < (dep.metadata.generation or 0):
        return False
    no_old_pods = (status.replicas or 0) == want
    return no_old_pods and (status.updated_replicas or 0) == want and (status.ready_replicas or 0) >= want


def wait_ready(region: Region, timeout: float = 300, poll_interval: float = 2.0) -> tuple[int, int]:
    """Wait until the latest rollout is complete; returns (spec, ready) replicas. Raises RolloutTimeout."""
    deadline = time.monotonic() + timeout
    api = _apps_api(region)
    while True:
        dep = _read(region, api)
        if _rolled_out(dep):
            return _spec_replicas(dep), dep.status.ready_replicas or 0
        if time.monotonic() >= deadline:
            s = dep.status
            seen = (
                f"generation {dep.metadata.generation} observed {s.observed_generation}, "
                f"replicas {_spec_replicas(dep)} updated {s.updated_replicas} ready {s.ready_replicas}"
                if s
                else "no status"
            )
            raise RolloutTimeout(region, f"not ready after {timeout:.0f}s ({seen})")
        time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))
