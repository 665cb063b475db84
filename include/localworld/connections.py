"""Airflow Connections for the local world, generated from the topology.

DAGs reach every server through these connections and the provider hooks, exactly as they
would reach a real cloud; only the endpoints and credentials differ. They are handed to
Airflow (and to tests) as ``AIRFLOW_CONN_<ID>`` environment variables in JSON form.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

from localworld.secrets import WorldSecrets
from localworld.settings import WorldSettings, port_of
from multiregion.core.topology import Region, StoreKind

AZURE_ACCOUNT = "devstoreaccount1"  # Azurite's account name; the key is ours (AZURITE_ACCOUNTS)
GCP_PROJECT = "multiregion-local"


def azure_connection_string(endpoint: str, key: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint={endpoint.rstrip('/')}/{AZURE_ACCOUNT};"
    )


def _storage_connection(region: Region, secrets: WorldSecrets) -> dict:
    storage = region.storage
    if storage.endpoint is None:
        raise ValueError(f"region {region.name!r}: storage.endpoint is required in the local world")
    if storage.kind is StoreKind.S3:
        return {
            "conn_type": "aws",
            "login": secrets.s3_access_key,
            "password": secrets.s3_secret_key,
            "extra": {"endpoint_url": storage.endpoint, "region_name": region.name},
        }
    if storage.kind is StoreKind.GCS:
        # Anonymous credentials; the endpoint comes from STORAGE_EMULATOR_HOST (process env).
        return {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": GCP_PROJECT}}
    return {
        "conn_type": "wasb",
        "extra": {
            "connection_string": azure_connection_string(storage.endpoint, secrets.azure_account_key),
            # The SDK's default retries take ~84 s to report a down store; keep failures quick.
            "retry_total": 2,
            "initial_backoff": 1,
            "increment_base": 2,
        },
    }


def kube_config(server: str, region: Region) -> str:
    """Kubeconfig content for one region's cluster: ``server`` is the emulator's per-region prefix.

    No credentials: the emulator listens on loopback only and does not authenticate.
    """
    name = region.name
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": server}}],
            "users": [{"name": "local", "user": {}}],
            "contexts": [
                {"name": name, "context": {"cluster": name, "user": "local", "namespace": region.kubernetes.namespace}}
            ],
            "current-context": name,
        }
    )


def build_connections(settings: WorldSettings, secrets: WorldSecrets) -> dict[str, dict]:
    topology = settings.topology
    conns: dict[str, dict] = {}
    for region in topology.regions:
        conns[region.storage.conn_id] = _storage_connection(region, secrets)
        # One emulated cluster per region, under its own path prefix of the kube-api emulator.
        conns[region.kubernetes.conn_id] = {
            "conn_type": "kubernetes",
            "extra": {
                "kube_config": kube_config(f"{settings.kube_url}/clusters/{region.name}", region),
                "namespace": region.kubernetes.namespace,
            },
        }
    backend = topology.traffic.backend
    if backend.kind == "powerdns":
        conns[backend.conn_id] = {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": settings.pdns_api_port,
            "schema": "http",
            "password": secrets.pdns_api_key,
        }
    if settings.external_database_url is None:
        conns["mr_state"] = {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": settings.postgres_port,
            "login": "airflow",
            "password": secrets.airflow_db_password,
            "schema": "multiregion_state",
        }
    # The primary registry's webhook secret, read by the plugin's webhook endpoint.
    conns["mlflow_webhook"] = {"conn_type": "generic", "password": secrets.mlflow_webhook_secret}
    # moto stands in for the AWS control-plane APIs (Route53, Cost Explorer) in tests.
    conns["aws_moto"] = {
        "conn_type": "aws",
        "login": "moto",
        "password": "moto",
        "extra": {"endpoint_url": settings.moto_url, "region_name": "us-east-1"},
    }
    return conns


def connection_env(conns: dict[str, dict]) -> dict[str, str]:
    return {
        f"AIRFLOW_CONN_{cid.upper().replace('.', '_').replace('-', '_')}": json.dumps(c) for cid, c in conns.items()
    }


def cloud_client_env(settings: WorldSettings, secrets: WorldSecrets) -> dict[str, str]:
    """Environment the cloud SDKs need to find the stand-ins (used by MLflow and GCS clients)."""
    env: dict[str, str] = {}
    for region in settings.topology.regions:
        endpoint = region.storage.endpoint or ""
        if region.storage.kind is StoreKind.GCS:
            host = urlparse(endpoint)
            env["STORAGE_EMULATOR_HOST"] = f"{host.scheme}://{host.hostname}:{port_of(endpoint)}"
    return env
