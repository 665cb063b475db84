"""World configuration that needs no running server: ports, connections, secrets."""

from __future__ import annotations

import json
import stat

import pytest
from localworld.connections import build_connections, connection_env
from localworld.secrets import load_or_create_secrets
from localworld.services import build_services
from localworld.settings import load_settings


def test_bad_port_env_is_named(monkeypatch):
    monkeypatch.setenv("MR_AIRFLOW_PORT", "80a")
    with pytest.raises(ValueError, match="MR_AIRFLOW_PORT='80a' is not a valid TCP port"):
        load_settings()


def test_topology_ports_move_every_server(monkeypatch, tmp_path):
    monkeypatch.setenv("MR_WORLD_DIR", str(tmp_path))
    monkeypatch.setenv("MR_S3_PORT", "28333")
    settings = load_settings()
    secrets = load_or_create_secrets(tmp_path)
    conns = build_connections(settings, secrets)
    assert conns["s3_us_west_2"]["extra"]["endpoint_url"] == "http://127.0.0.1:28333"
    s3 = next(s for s in build_services(settings, secrets) if s.name == "s3")
    assert "-s3.port=28333" in s3.argv and s3.ready_url.startswith("http://127.0.0.1:28333")


def test_every_service_binds_loopback(monkeypatch, tmp_path):
    monkeypatch.setenv("MR_WORLD_DIR", str(tmp_path))
    settings = load_settings()
    for svc in build_services(settings, load_or_create_secrets(tmp_path)):
        argv = " ".join(svc.argv)
        assert "0.0.0.0" not in argv, svc.name


def test_secrets_are_generated_private_and_stable(tmp_path):
    first = load_or_create_secrets(tmp_path)
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    assert load_or_create_secrets(tmp_path) == first
    assert load_or_create_secrets(tmp_path / "other") != first


def test_connections_are_json_env_vars(monkeypatch, tmp_path):
    monkeypatch.setenv("MR_WORLD_DIR", str(tmp_path))
    env = connection_env(build_connections(load_settings(), load_or_create_secrets(tmp_path)))
    assert set(env) >= {"AIRFLOW_CONN_S3_US_WEST_2", "AIRFLOW_CONN_GCS_EU_WEST_1", "AIRFLOW_CONN_WASB_AP_SOUTH_1"}
    gcs = json.loads(env["AIRFLOW_CONN_GCS_EU_WEST_1"])
    assert gcs["conn_type"] == "google_cloud_platform" and gcs["extra"]["is_anonymous"] is True


def test_kube_api_emulates_every_regions_cluster(monkeypatch, tmp_path):
    monkeypatch.setenv("MR_WORLD_DIR", str(tmp_path))
    monkeypatch.setenv("MR_KUBE_PORT", "28700")
    settings = load_settings()
    secrets = load_or_create_secrets(tmp_path)
    kube = next(s for s in build_services(settings, secrets) if s.name == "kube-api")
    assert kube.stage == "infrastructure" and kube.ready_url == "http://127.0.0.1:28700/healthz"
    assert kube.argv[kube.argv.index("--host") + 1] == "127.0.0.1" and "28700" in kube.argv
    conns = build_connections(settings, secrets)
    for region in settings.topology.regions:
        k = region.kubernetes
        assert f"{region.name}/{k.namespace}/{k.deployment}={k.min_replicas}" in kube.argv
        hook = next(a for a in kube.argv if a.startswith(f"{region.name}=") and "supervisorctl" in a)
        assert hook.endswith(f"restart serving-{region.name}")
        conn = conns[k.conn_id]
        config = json.loads(conn["extra"]["kube_config"])
        assert conn["conn_type"] == "kubernetes" and conn["extra"]["namespace"] == k.namespace
        assert config["clusters"][0]["cluster"]["server"] == f"http://127.0.0.1:28700/clusters/{region.name}"
        assert config["contexts"][0]["context"]["namespace"] == k.namespace
