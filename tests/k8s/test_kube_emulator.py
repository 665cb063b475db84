"""The Kubernetes API emulator's HTTP behaviour, in process (content types, Status errors, restart hook)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from localworld.kube_emulator import RESTARTED_AT, DeploymentSeed, KubeEmulator, seeds_from_topology

from multiregion.core.topology import load_topology

DEP = "/clusters/c1/apis/apps/v1/namespaces/ns/deployments/web"
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}


def _client(**kwargs) -> TestClient:
    return TestClient(KubeEmulator([DeploymentSeed("c1", "ns", "web", 2)], **kwargs).app)


def _wait(client: TestClient, predicate, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while not predicate(dep := client.get(DEP).json()):
        assert time.monotonic() < deadline, dep["status"]
        time.sleep(0.05)
    return dep


def test_seeded_from_the_topology_at_min_replicas():
    topo = load_topology()
    seeds = seeds_from_topology(topo)
    assert [(s.cluster, s.replicas) for s in seeds] == [(r.name, r.kubernetes.min_replicas) for r in topo.regions]


def test_unknown_deployment_and_path_are_404_status_objects():
    client = _client()
    resp = client.get(DEP.replace("web", "nope"))
    body = resp.json()
    assert resp.status_code == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "nope" not found'
    assert client.get("/clusters/other/apis/apps/v1/namespaces/ns/deployments/web").status_code == 404
    assert client.get("/api/v1/pods").json()["kind"] == "Status"


@pytest.mark.parametrize("headers", [MERGE, STRATEGIC])
def test_scale_subresource_with_merge_patches(headers):
    client = _client(ready_delay=0.3)
    scale = client.get(DEP + "/scale").json()
    assert (scale["kind"], scale["apiVersion"], scale["spec"]["replicas"]) == ("Scale", "autoscaling/v1", 2)
    assert client.patch(DEP + "/scale", json={"spec": {"replicas": 5}}, headers=headers).json()["spec"]["replicas"] == 5
    dep = client.get(DEP).json()
    assert dep["spec"]["replicas"] == 5 and dep["status"]["readyReplicas"] == 2 and dep["metadata"]["generation"] == 2
    assert _wait(client, lambda d: d["status"]["readyReplicas"] == 5)["status"]["updatedReplicas"] == 5


def test_json_patch_and_replace_scale():
    client = _client()
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 3}]
    resp = client.patch(DEP, json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert resp.status_code == 200 and resp.json()["spec"]["replicas"] == 3
    assert client.put(DEP + "/scale", json={"spec": {"replicas": 4}}).json()["spec"]["replicas"] == 4


def test_bad_writes_are_rejected_with_a_reason():
    client = _client()
    resp = client.patch(DEP, json={"spec": {}}, headers={"Content-Type": "application/apply-patch+yaml"})
    assert resp.status_code == 415 and "apply-patch+yaml" in resp.json()["message"]
    resp = client.patch(DEP + "/scale", json={"spec": {"replicas": -1}}, headers=MERGE)
    assert resp.status_code == 422 and "spec.replicas" in resp.json()["message"]


def test_identical_patch_writes_nothing():
    client = _client()
    version = client.get(DEP).json()["metadata"]["resourceVersion"]
    client.patch(DEP + "/scale", json={"spec": {"replicas": 2}}, headers=MERGE)
    assert client.get(DEP).json()["metadata"]["resourceVersion"] == version


def test_restart_hook_gates_readiness_and_reports_failure():
    calls = []

    def hook(cluster, namespace, name):
        calls.append((cluster, namespace, name))
        if len(calls) == 2:
            raise RuntimeError("serving would not start")

    client = _client(ready_delay=0.1, on_restart=hook)
    restart = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "2030-01-01T00:00:00Z"}}}}}
    dep = client.patch(DEP, json=restart, headers=STRATEGIC).json()
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "web"}  # merged, not replaced
    _wait(client, lambda d: d["status"]["updatedReplicas"] == 2)
    assert calls == [("c1", "ns", "web")]
    restart["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] = "2030-01-01T00:01:00Z"
    client.patch(DEP, json=restart, headers=STRATEGIC)
    dep = _wait(client, lambda d: "conditions" in d["status"])
    assert "serving would not start" in dep["status"]["conditions"][0]["message"]
    assert dep["status"]["updatedReplicas"] == 0  # stays not rolled out


def test_scaling_to_zero_and_back_calls_its_hooks_and_readiness_waits_for_them():
    calls = []
    client = _client(
        ready_delay=0.1,
        on_zero=lambda *key: calls.append(("zero", *key)),
        on_unzero=lambda *key: calls.append(("unzero", *key)),
    )
    client.patch(DEP + "/scale", json={"spec": {"replicas": 1}}, headers=MERGE)  # 2 -> 1: no hook
    _wait(client, lambda d: d["status"]["readyReplicas"] == 1)
    client.patch(DEP + "/scale", json={"spec": {"replicas": 0}}, headers=MERGE)
    _wait(client, lambda d: d["status"].get("readyReplicas") == 0)
    client.patch(DEP, json={"spec": {"replicas": 3}}, headers=MERGE)  # through the deployment too
    _wait(client, lambda d: d["status"]["readyReplicas"] == 3)
    assert calls == [("zero", "c1", "ns", "web"), ("unzero", "c1", "ns", "web")]


def test_zero_hooks_are_per_deployment_never_cluster_wide():
    from localworld.kube_emulator import command_hook

    hook = command_hook({"c1/ns/web": ["false"]})  # a command that fails: it shows when it ran
    with pytest.raises(RuntimeError, match="exited 1"):
        hook("c1", "ns", "web")
    hook("c1", "ns", "other")  # no template for it: nothing runs
