"""Provision the Docker Compose world: buckets, the global DNS zone and record, the kubeconfig.

Runs in the project image as the one-shot ``world-init`` service on every ``docker compose up``.
Every step is idempotent and leaves alone what is already there, so traffic weights set by the
DAGs survive a restart. Regions, buckets and the record come from the topology ($MR_TOPOLOGY);
the stores are reached through the same Airflow connections (AIRFLOW_CONN_*) and provider hooks
that the DAGs use, so a wrong connection fails here, early, with the region named.

Environment (set by docker-compose.yaml):
  MR_TOPOLOGY            topology file (deploy/compose/topology.compose.yaml in the container)
  MR_PDNS_API_URL        PowerDNS HTTP API, e.g. http://powerdns:8081
  MR_PDNS_API_KEY        its API key
  MR_K3S_KUBECONFIG      kubeconfig k3s writes (its server is https://127.0.0.1:6443)
  MR_K3S_SERVER          the address other containers reach k3s at, e.g. https://k3s:6443
  MR_KUBECONFIG          where to write the kubeconfig the Airflow connections use
  MR_WORLD_INIT_TIMEOUT  seconds to wait for each server (default 180)
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from localworld.provision import ensure_bucket, ensure_registry_webhook, seed_weighted_record

from multiregion.core.topology import StoreKind, Topology, TopologyError, load_topology
from multiregion.traffic.powerdns import PowerDnsClient, PowerDnsError

# Readiness probe per store kind: any HTTP answer below 500 means the server is up
# (Azurite answers 403 to an unsigned listing, which is fine).
PROBE_PATH = {
    StoreKind.S3: "/healthz",
    StoreKind.GCS: "/storage/v1/b",
    StoreKind.AZURE_BLOB: "/devstoreaccount1?comp=list",
}


class WorldInitError(RuntimeError):
    """A step that cannot complete; the message names the server or region."""


def log(message: str) -> None:
    print(f"world-init: {message}", flush=True)


def require_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise WorldInitError(f"environment variable {name} is not set")
    return value


def wait_http(name: str, url: str, timeout: float, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        status: int | None = None
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if status is not None and status < 500:
            return
        if status is not None:
            last = f"HTTP {status}"
        if time.monotonic() >= deadline:
            raise WorldInitError(f"{name} at {url} is not ready after {timeout:.0f}s ({last})")
        time.sleep(1)


def wait_file(name: str, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (path.is_file() and path.stat().st_size > 0):
        if time.monotonic() >= deadline:
            raise WorldInitError(f"{name}: {path} did not appear within {timeout:.0f}s")
        time.sleep(1)


def provision_stores(topology: Topology, timeout: float) -> None:
    for region in topology.regions:
        endpoint = region.storage.endpoint
        if endpoint is None:
            raise WorldInitError(f"region {region.name!r}: storage.endpoint is required in the compose world")
        probe = endpoint.rstrip("/") + PROBE_PATH[region.storage.kind]
        wait_http(f"{region.name} {region.storage.kind.value} store", probe, timeout)
        try:
            created = ensure_bucket(region)
        except Exception as exc:  # any SDK error: say which region and connection
            raise WorldInitError(
                f"region {region.name!r}: cannot create bucket {region.storage.bucket!r} "
                f"through connection {region.storage.conn_id!r}: {type(exc).__name__}: {exc}"
            ) from exc
        log(f"{region.name}: bucket {region.storage.bucket} {'created' if created else 'already present'}")


def provision_dns(topology: Topology, timeout: float) -> None:
    traffic = topology.traffic
    if traffic.backend.kind != "powerdns":
        log(f"traffic backend is {traffic.backend.kind}: nothing to seed")
        return
    api_url, api_key = require_env("MR_PDNS_API_URL"), require_env("MR_PDNS_API_KEY")
    server = f"{api_url.rstrip('/')}/api/v1/servers/{traffic.backend.server_id}"
    wait_http("PowerDNS API", server, timeout, headers={"X-API-Key": api_key})
    client = PowerDnsClient(api_url, api_key, traffic.backend.server_id)
    try:
        weights = seed_weighted_record(client, topology)
    except PowerDnsError as exc:
        raise WorldInitError(f"DNS: {exc}") from exc
    if weights is None:
        log(f"DNS: {traffic.record} already present (weights left as they are)")
    else:
        log(f"DNS: {traffic.record} created with weights {weights}")


def provision_kubeconfig(timeout: float) -> None:
    source = Path(require_env("MR_K3S_KUBECONFIG"))
    target = Path(require_env("MR_KUBECONFIG"))
    server = require_env("MR_K3S_SERVER")
    wait_file("k3s kubeconfig", source, timeout)
    config = yaml.safe_load(source.read_text())
    clusters = config.get("clusters") if isinstance(config, dict) else None
    if not clusters:
        raise WorldInitError(f"{source}: no clusters in the kubeconfig k3s wrote")
    for entry in clusters:
        entry["cluster"]["server"] = server
    # Write-then-rename: a reader never sees half a kubeconfig.
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o640)
    os.replace(tmp, target)
    log(f"kubeconfig for {server} written to {target}")


def provision_webhook(topology: Topology, timeout: float) -> None:
    """The primary registry's webhook to Airflow's plugin endpoint (replication on registration)."""
    uri = topology.primary.registry.uri
    wait_http("primary MLflow registry", f"{uri.rstrip('/')}/health", timeout)
    url = require_env("MR_WEBHOOK_URL")
    hook_id = ensure_registry_webhook(uri, url, require_env("MR_MLFLOW_WEBHOOK_SECRET"))
    log(f"registry webhook {hook_id}: {uri} -> {url}")


def main() -> int:
    timeout = float(os.environ.get("MR_WORLD_INIT_TIMEOUT", "180"))
    try:
        topology = load_topology()
        if sys.argv[1:] == ["webhook"]:  # the registry-webhook one-shot, once MLflow is up
            provision_webhook(topology, timeout)
            log("done")
            return 0
        log(f"topology {topology.name!r}: regions {', '.join(topology.region_names)}")
        provision_stores(topology, timeout)
        provision_dns(topology, timeout)
        provision_kubeconfig(timeout)
    except (TopologyError, WorldInitError) as exc:
        print(f"world-init: error: {exc}", file=sys.stderr, flush=True)
        return 1
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
