"""The deployments adapter through the real KubernetesHook and kubernetes client, against the emulator.

The emulator runs as a subprocess on a free port (never the world's), with the connections the
world would generate for it, so the kubeconfig, path prefixes and content types are all exercised.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys

import httpx
import pytest
from localworld.connections import build_connections, connection_env
from localworld.kube_emulator import emulator_process, seeds_from_topology
from localworld.secrets import load_or_create_secrets
from localworld.settings import load_settings

from multiregion.k8s import deployments
from multiregion.k8s.deployments import ClusterUnavailable, DeploymentNotFound, RolloutTimeout

READY_DELAY = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    """(settings pointing at a fresh emulator, marker dir of the restart hook)."""
    marks = tmp_path_factory.mktemp("restarts")
    settings = dataclasses.replace(load_settings(), kube_port=_free_port())
    hook = f"{sys.executable} -c 'import pathlib,sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])'"
    options = [
        "--ready-delay",
        str(READY_DELAY),
        "--on-restart",
        f"*={hook} {marks}/{{cluster}} {{namespace}}/{{deployment}}",
    ]
    with emulator_process(settings.kube_port, seeds_from_topology(settings.topology), *options):
        env = connection_env(build_connections(settings, load_or_create_secrets(settings.state_dir)))
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                if key.startswith("AIRFLOW_CONN_K8S_"):
                    mp.setenv(key, value)
            yield settings, marks


def _raw(settings, region) -> dict:
    k = region.kubernetes
    url = f"{settings.kube_url}/clusters/{region.name}/apis/apps/v1/namespaces/{k.namespace}/deployments/{k.deployment}"
    return httpx.get(url, timeout=5).json()


def _with(region, **kubernetes):
    return region.model_copy(update={"kubernetes": region.kubernetes.model_copy(update=kubernetes)})


def test_connections_hold_a_kubeconfig_per_region(kube):
    settings, _ = kube
    env = connection_env(build_connections(settings, load_or_create_secrets(settings.state_dir)))
    for region in settings.topology.regions:
        conn = json.loads(env["AIRFLOW_CONN_" + region.kubernetes.conn_id.upper()])
        config = json.loads(conn["extra"]["kube_config"])
        assert conn["conn_type"] == "kubernetes" and conn["extra"]["namespace"] == region.kubernetes.namespace
        assert config["clusters"][0]["cluster"]["server"] == f"{settings.kube_url}/clusters/{region.name}"


def test_replicas_start_at_min_replicas_in_every_cluster(kube):
    settings, _ = kube
    for region in settings.topology.regions:
        n = region.kubernetes.min_replicas
        assert deployments.replicas(region) == (n, n), region.name


def test_scale_then_wait_ready_and_idempotent(kube):
    settings, _ = kube
    region = settings.topology.region("eu-west-1")
    start = region.kubernetes.min_replicas
    assert deployments.scale(region, start + 2) is True
    spec, ready = deployments.replicas(region)
    assert spec == start + 2 and ready == start  # pods take READY_DELAY to become ready
    # The other regions' clusters are separate.
    assert deployments.replicas(settings.topology.region("us-west-2"))[0] == 2
    assert deployments.wait_ready(region, timeout=30, poll_interval=0.2) == (start + 2, start + 2)
    version = _raw(settings, region)["metadata"]["resourceVersion"]
    assert deployments.scale(region, start + 2) is False
    assert _raw(settings, region)["metadata"]["resourceVersion"] == version  # no write


def test_wait_ready_times_out_with_what_it_saw(kube):
    settings, _ = kube
    region = settings.topology.region("us-west-2")
    deployments.scale(region, 3)
    with pytest.raises(RolloutTimeout, match=r"region us-west-2: deployment ml-serving/model-server .*ready 2"):
        deployments.wait_ready(region, timeout=0.3, poll_interval=0.1)
    deployments.wait_ready(region, timeout=30, poll_interval=0.2)


def test_scale_refuses_beyond_max_replicas(kube):
    settings, _ = kube
    region = settings.topology.region("us-west-2")
    with pytest.raises(ValueError, match=r"us-west-2: replicas must be an integer in 0..10"):
        deployments.scale(region, 11)


def test_rollout_restart_annotates_template_and_runs_the_hook(kube):
    settings, marks = kube
    region = settings.topology.region("ap-south-1")
    generation = _raw(settings, region)["metadata"]["generation"]
    stamp = deployments.rollout_restart(region)
    dep = _raw(settings, region)
    assert dep["spec"]["template"]["metadata"]["annotations"][deployments.RESTARTED_AT] == stamp
    assert dep["metadata"]["generation"] == generation + 1
    assert dep["status"]["updatedReplicas"] == 0  # new pods not up yet
    n = region.kubernetes.min_replicas
    assert deployments.wait_ready(region, timeout=30, poll_interval=0.2) == (n, n)
    assert (marks / "ap-south-1").read_text() == "ml-serving/model-server"
    # Labels of the pod template survive the strategic merge patch.
    assert _raw(settings, region)["spec"]["template"]["metadata"]["labels"] == {"app": "model-server"}


def test_unknown_deployment_is_named_in_the_error(kube):
    settings, _ = kube
    region = _with(settings.topology.region("eu-west-1"), deployment="no-such-server")
    msg = r"region eu-west-1: deployment ml-serving/no-such-server \(connection k8s_eu_west_1\): not found"
    with pytest.raises(DeploymentNotFound, match=msg):
        deployments.replicas(region)
    with pytest.raises(DeploymentNotFound, match=msg):
        deployments.scale(region, 3)
    with pytest.raises(DeploymentNotFound, match=msg):
        deployments.rollout_restart(region)
    wrong_ns = _with(settings.topology.region("eu-west-1"), namespace="other")
    with pytest.raises(DeploymentNotFound, match="deployment other/model-server"):
        deployments.wait_ready(wrong_ns, timeout=1)


def test_unreachable_cluster_is_unavailable(kube, monkeypatch):
    settings, _ = kube
    region = _with(settings.topology.region("us-west-2"), conn_id="k8s_down")
    down = dataclasses.replace(settings, kube_port=_free_port())
    conn = build_connections(down, load_or_create_secrets(settings.state_dir))["k8s_us_west_2"]
    monkeypatch.setenv("AIRFLOW_CONN_K8S_DOWN", json.dumps(conn))
    with pytest.raises(ClusterUnavailable, match=r"region us-west-2: .*cluster API unreachable"):
        deployments.replicas(region)


def test_hooks_of_different_regions_do_not_share_configuration(kube):
    # Regression guard: the hook would otherwise load each kubeconfig into the client's global default.
    from kubernetes import client

    settings, _ = kube
    before = client.Configuration.get_default_copy().host
    for region in settings.topology.regions:
        deployments.replicas(region)
    assert client.Configuration.get_default_copy().host == before


def test_adapter_module_keeps_heavy_imports_lazy():
    code = "import sys, multiregion.k8s.deployments; print('kubernetes' in sys.modules, 'airflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": "include"})
    assert out.stdout.split() == ["False", "False"], out.stderr
