"""What a recovered region is resynced with: the serving model only when the primary has its alias."""

from __future__ import annotations

import uuid

import pytest

from multiregion.core.topology import default_topology_path, load_topology
from multiregion.ops.recovery import resync_requests
from multiregion.registry.mlflow_registry import RegionRegistry

pytestmark = pytest.mark.world


def test_the_serving_model_is_resynced_only_once_the_primary_has_its_alias(world, tmp_path, monkeypatch):
    model = f"resync-probe-{uuid.uuid4().hex[:8]}"
    topology_file = tmp_path / "topology.yaml"
    text = default_topology_path().read_text()
    assert "model: churn-classifier" in text
    topology_file.write_text(text.replace("model: churn-classifier", f"model: {model}"))
    monkeypatch.setenv("MR_TOPOLOGY", str(topology_file))
    primary = load_topology().primary

    def model_requests():
        return [r for r in resync_requests("eu-west-1", "run-1") if r["trigger_dag_id"] == "replicate_model"]

    assert model_requests() == []  # nothing registered: nothing to replicate, no failing resync run

    client = RegionRegistry(primary).client
    run = client.create_run(experiment_id="0").info.run_id  # a version needs a source to point at
    client.create_registered_model(model)
    try:
        version = client.create_model_version(model, source=f"runs:/{run}/model", run_id=run).version
        assert model_requests() == []  # a version, but no alias to follow yet
        client.set_registered_model_alias(model, primary.serving.alias, version)
        (request,) = model_requests()
        alias = primary.serving.alias
        assert request["conf"] == {"model": model, "alias": alias, "promote_alias": alias}
        assert request["trigger_run_id"] == "resync__eu-west-1__run-1__model"
    finally:
        client.delete_registered_model(model)
        client.delete_run(run)
