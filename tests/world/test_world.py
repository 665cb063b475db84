"""The local world as the DAGs see it: every server ready, reachable through generated connections."""

from __future__ import annotations

import collections

import httpx
import pytest
from localworld import controller

from multiregion.core.topology import StoreKind
from multiregion.serving.health_client import get_health

pytestmark = pytest.mark.world


def test_every_service_is_running_and_ready(world):
    rows = controller.status(world)
    assert rows, "world is not running"
    not_ready = [(name, state) for name, state, ready in rows if state != "RUNNING" or not ready]
    assert not not_ready


def test_every_server_binds_loopback_only(world):
    import psutil

    ours = {p.pid for p in controller.leftover_processes(world)}
    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in ours:
            assert conn.laddr.ip in ("127.0.0.1", "::1"), f"pid {conn.pid} listens on {conn.laddr}"


def test_connections_point_the_provider_hooks_at_each_region(world):
    for region in world.topology.regions:
        storage = region.storage
        if storage.kind is StoreKind.S3:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            hook = S3Hook(aws_conn_id=storage.conn_id)
            assert hook.conn_config.endpoint_url == storage.endpoint
            assert hook.check_for_bucket(storage.bucket)
        elif storage.kind is StoreKind.GCS:
            from airflow.providers.google.cloud.hooks.gcs import GCSHook

            assert GCSHook(gcp_conn_id=storage.conn_id).get_conn().lookup_bucket(storage.bucket) is not None
        else:
            from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

            service = WasbHook(wasb_conn_id=storage.conn_id).get_conn()
            assert service.url.startswith(storage.endpoint)
            assert service.get_container_client(storage.bucket).exists()


def test_global_dns_answers_by_weight(world):
    import dns.resolver

    host, port = world.topology.traffic.backend.nameserver.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [host], int(port)
    answers = collections.Counter(resolver.resolve(world.topology.traffic.record, "A")[0].address for _ in range(200))
    by_address = {r.traffic.address: r.traffic.weight for r in world.topology.regions}
    assert set(answers) == {a for a, w in by_address.items() if w > 0}
    heaviest = max(by_address, key=by_address.get)
    assert answers.most_common(1)[0][0] == heaviest


def test_serving_endpoints_report_health_and_metrics(world):
    for region in world.topology.regions:
        url = region.serving.endpoints[0]
        health = get_health(url)
        assert health["region"] == region.name and health["model"] == region.serving.model
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert f'multiregion_serving_model_loaded{{model="{region.serving.model}",region="{region.name}"}}' in metrics
        resp = httpx.post(f"{url}/predict", json={"instances": []}, timeout=5)
        assert resp.status_code == 422  # empty input is rejected with a reason


def test_mlflow_registry_per_region_uses_its_own_store(world):
    for region in world.topology.regions:
        assert httpx.get(f"{region.registry.uri}/health", timeout=5).status_code == 200
        exps = httpx.get(f"{region.registry.uri}/api/2.0/mlflow/experiments/search?max_results=5", timeout=5).json()
        default = next(e for e in exps["experiments"] if e["name"] == "Default")
        assert default["artifact_location"].startswith("mlflow-artifacts:")


def test_prometheus_scrapes_serving_and_alertmanager_is_wired(world):
    mon = world.topology.monitoring
    targets = httpx.get(f"{mon.prometheus_url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    jobs = collections.Counter(t["labels"]["job"] for t in targets)
    assert jobs["serving"] == len(world.topology.regions) and jobs["pushgateway"] == 1 and jobs["airflow"] == 1
    ams = httpx.get(f"{mon.prometheus_url}/api/v1/alertmanagers", timeout=5).json()["data"]["activeAlertmanagers"]
    assert any(mon.alertmanager_url.split("://")[1] in a["url"] for a in ams)
    rules = httpx.get(f"{mon.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    groups = {"multiregion-regions", "multiregion-replication", "multiregion-airflow", "multiregion-pipelines"}
    assert {g["name"] for g in rules} >= groups


def test_the_primary_registry_has_one_replication_webhook_to_the_plugin(world):
    from localworld.provision import WEBHOOK_NAME, register_registry_webhook
    from localworld.secrets import load_or_create_secrets
    from mlflow import MlflowClient

    secrets = load_or_create_secrets(world.state_dir)
    first = register_registry_webhook(world, secrets)
    assert register_registry_webhook(world, secrets) == first  # idempotent: updated in place
    hooks = [h for h in MlflowClient(world.topology.primary.registry.uri).list_webhooks() if h.name == WEBHOOK_NAME]
    assert [h.webhook_id for h in hooks] == [first]
    assert hooks[0].url == f"{world.airflow_url}/multiregion/webhooks/mlflow"
    assert {f"{e.entity}.{e.action}" for e in hooks[0].events} == {
        "model_version.created",
        "model_version_alias.created",
    }
