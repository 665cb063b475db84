"""The Regions page's API, through FastAPI's TestClient on the plugin's app: a login is required,
maintenance actions need the Admin role and a typed confirmation, and the safety rules hold."""

from __future__ import annotations

import pytest
from localworld import drills

from multiregion.core.traffic_policy import ChangeKind, MaintenanceHold
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import TrafficController

pytestmark = [pytest.mark.world]
API = "/api/regions"


def test_the_page_data_needs_a_login(plugin_client, world):
    assert plugin_client.get(API).status_code == 401
    assert plugin_client.get(API, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    assert plugin_client.post(f"{API}/eu-west-1/maintenance", json={"reason": "x", "confirm": "x"}).status_code == 401


def test_the_bundle_is_javascript(plugin_client):
    resp = plugin_client.get("/ui/regions.js")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/javascript")
    assert b"globalThis.AirflowPlugin" in resp.content


def test_every_region_has_a_tile_with_its_signals(plugin_client, auth, world):
    body = plugin_client.get(API, headers=auth("viewer")).json()
    assert [r["name"] for r in body["regions"]] == world.topology.region_names
    assert body["can_act"] is False and body["errors"] == {}
    for row in body["regions"]:
        assert row["weight"] == world.topology.region(row["name"]).traffic.weight
        assert row["serving_up"] is True and row["status"] in ("ok", "degraded")
    assert sum(r["weight_share"] for r in body["regions"]) == pytest.approx(1.0, abs=1e-3)
    assert plugin_client.get(API, headers=auth("admin")).json()["can_act"] is True


def test_maintenance_is_admin_only_and_needs_the_typed_region(plugin_client, auth, world):
    drills.reset(world)
    body = {"reason": "kernel patching", "confirm": "eu-west-1"}
    refused = plugin_client.post(f"{API}/eu-west-1/maintenance", json=body, headers=auth("viewer"))
    assert refused.status_code == 403 and "Admin" in refused.json()["detail"]
    wrong = plugin_client.post(f"{API}/eu-west-1/maintenance", json={**body, "confirm": "eu"}, headers=auth("admin"))
    assert wrong.status_code == 400 and "does not match" in wrong.json()["detail"]
    short = plugin_client.post(f"{API}/eu-west-1/maintenance", json={**body, "reason": ""}, headers=auth("admin"))
    assert short.status_code == 422
    unknown = plugin_client.post(f"{API}/mars-1/maintenance", json={**body, "confirm": "mars-1"}, headers=auth("admin"))
    assert unknown.status_code == 404
    assert TrafficController(world.topology).weights()["eu-west-1"] > 0  # nothing changed


def test_maintenance_drain_is_audited_held_and_undone(plugin_client, auth, world):
    drills.reset(world)
    controller = TrafficController(world.topology)
    original = controller.weights()["eu-west-1"]
    body = {"reason": "kernel patching", "confirm": "eu-west-1"}
    done = plugin_client.post(f"{API}/eu-west-1/maintenance", json=body, headers=auth("admin"))
    assert done.status_code == 200, done.text
    assert controller.weights()["eu-west-1"] == 0
    (entry,) = [e for e in StateStore().audit(5) if e["action"] == "maintenance"][:1]
    assert entry["region"] == "eu-west-1" and "kernel patching (by admin)" in entry["reason"]
    tile = next(r for r in plugin_client.get(API, headers=auth("admin")).json()["regions"] if r["name"] == "eu-west-1")
    assert tile["status"] == "maintenance" and tile["maintenance"]["reason"].startswith("kernel patching")

    # held: no restoration step or recovery brings it back
    with pytest.raises(MaintenanceHold):
        controller.set_weight("eu-west-1", 3, ChangeKind.RESTORE_STEP, "restoration step", "test")
    from multiregion.ops.recovery import prepare

    assert prepare("eu-west-1")["needed"] is False
    from multiregion.operators.traffic import StagedRestoreOperator

    restore = StagedRestoreOperator(task_id="restore", region="eu-west-1").execute({"run_id": "test"})
    assert restore["held"] == "maintenance" and controller.weights()["eu-west-1"] == 0
    again = plugin_client.post(f"{API}/eu-west-1/maintenance", json=body, headers=auth("admin"))
    assert again.status_code == 409 and "already" in again.json()["detail"]

    back = plugin_client.request("DELETE", f"{API}/eu-west-1/maintenance", json={"reason": "patched"},
                                 headers=auth("admin"))  # fmt: skip
    assert back.status_code == 200, back.text
    assert back.json()["new"]["eu-west-1"] == original == controller.weights()["eu-west-1"]
    assert [e["action"] for e in StateStore().audit(1)] == ["maintenance_end"]
    twice = plugin_client.request("DELETE", f"{API}/eu-west-1/maintenance", json={"reason": "again"},
                                  headers=auth("admin"))  # fmt: skip
    assert twice.status_code == 409 and "not drained for maintenance" in twice.json()["detail"]


def test_the_last_healthy_region_is_never_drained_for_maintenance(plugin_client, auth, world):
    drills.reset(world)
    controller = TrafficController(world.topology)
    controller.reset({"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 20}, "test: one region left")
    try:
        body = {"reason": "patching", "confirm": "ap-south-1"}
        refused = plugin_client.post(f"{API}/ap-south-1/maintenance", json=body, headers=auth("admin"))
        assert refused.status_code == 409
        assert refused.json()["detail"] == "ap-south-1 is the last healthy region with traffic: not drained"
        assert controller.weights()["ap-south-1"] == 20
        assert not controller.state.maintenance()
    finally:
        drills.reset(world)


def test_airflow_lists_the_plugin_and_its_regions_page(auth, world):
    import httpx

    body = httpx.get(f"{world.airflow_url}/api/v2/plugins", headers=auth("viewer"), timeout=10).json()
    (plugin,) = [p for p in body["plugins"] if p["name"] == "multiregion"]
    (page,) = plugin["react_apps"]
    assert page["url_route"] == "regions" and page["destination"] == "nav"
    assert httpx.get(f"{world.airflow_url}{page['bundle_url']}", timeout=10).status_code == 200
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/multiregion"]
    # the running API server refuses the page's data without a login
    assert httpx.get(f"{world.airflow_url}/multiregion/api/regions", timeout=10).status_code == 401
