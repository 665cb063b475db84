"""Cloudflare backend through the official client, against a local fake of the pool API."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import cloudflare
import httpx
import pytest
from cloudflare_fake import CloudflareFake

from multiregion import PROJECT_ROOT
from multiregion.core.topology import CloudflareBackend as CloudflareConfig
from multiregion.core.topology import load_topology
from multiregion.traffic.base import TrafficBackendError
from multiregion.traffic.cloudflare import CloudflareBackend
from multiregion.traffic.controller import backend_for

ACCOUNT, POOL, TOKEN = "0123456789abcdef0123456789abcdef", "17b5962d775c646f3f9725cbc7a53df4", "test-token-not-secret"
CONN_ID = "cloudflare_test"


def origin(name: str, address: str, weight: float, **extra) -> dict:
    return {"name": name, "address": address, "enabled": True, "weight": weight, **extra}


def initial_pool() -> dict:
    return {
        "id": POOL,
        "name": "api-pool",
        "enabled": True,
        "minimum_origins": 1,
        "origin_steering": {"policy": "random"},
        "origins": [
            origin("us-west-2", "203.0.113.10", 0.5, header={"Host": ["api.ml.acme.example"]}, port=8443),
            origin("legacy-dc", "192.0.2.99", 0.7),  # not in the topology: must be left alone
            origin("eu-west-1", "198.51.100.20", 0.3, virtual_network_id="vnet-1"),
            origin("ap-south-1", "192.0.2.30", 0.2),
        ],
    }


@pytest.fixture
def fake():
    with CloudflareFake(TOKEN, ACCOUNT, {POOL: initial_pool()}) as server:
        yield server


def make_backend(fake: CloudflareFake, monkeypatch, token: str = TOKEN, pool_id: str = POOL) -> CloudflareBackend:
    conn = {"conn_type": "http", "host": fake.base_url, "password": token}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    topology = load_topology(PROJECT_ROOT / "config" / "topology.example.yaml")
    config = CloudflareConfig(kind="cloudflare", conn_id=CONN_ID, account_id=ACCOUNT, pool_id=pool_id)
    topology = topology.model_copy(update={"traffic": topology.traffic.model_copy(update={"backend": config})})
    backend = backend_for(topology)
    assert isinstance(backend, CloudflareBackend)
    return backend


@pytest.fixture
def backend(fake, monkeypatch):
    return make_backend(fake, monkeypatch)


def weights_in_pool(fake: CloudflareFake) -> dict[str, float]:
    return {o["name"]: float(o["weight"]) for o in fake.pools[POOL]["origins"]}


def test_weights_round_trip(fake, backend):
    assert backend.get_weights() == {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}
    assert backend.set_weights({"us-west-2": 0, "eu-west-1": 60, "ap-south-1": 40}) is True
    assert backend.get_weights() == {"us-west-2": 0, "eu-west-1": 60, "ap-south-1": 40}
    assert weights_in_pool(fake) == {"us-west-2": 0.0, "legacy-dc": 0.7, "eu-west-1": 0.6, "ap-south-1": 0.4}


@pytest.mark.parametrize("weight", [1, 7, 29, 57, 99, 100])  # 0.29 and 0.57 are not exact floats
def test_every_weight_round_trips_exactly(fake, backend, weight):
    target = {"us-west-2": weight, "eu-west-1": 100 - weight, "ap-south-1": 0}
    backend.set_weights(target)
    assert backend.get_weights() == target
    assert backend.set_weights(target) is False


def test_unchanged_weights_write_nothing(fake, backend):
    assert backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}) is False
    assert fake.writes == []
    assert fake.requests and all(r.method == "GET" for r in fake.requests)


def test_patch_changes_only_weights(fake, backend):
    backend.set_weights({"us-west-2": 0, "eu-west-1": 30, "ap-south-1": 70})
    [write] = fake.writes
    assert write.method == "PATCH"
    assert write.path == f"/client/v4/accounts/{ACCOUNT}/load_balancers/pools/{POOL}"
    assert write.headers["Content-Type"].startswith("application/json")
    assert set(write.body) == {"origins"}  # the pool's other settings are not re-sent
    expected = initial_pool()["origins"]
    expected[0]["weight"], expected[3]["weight"] = 0.0, 0.7
    sent = [{**o, "weight": float(o["weight"])} for o in write.body["origins"]]
    assert sent == expected  # order, header (as "Host"), port, vnet and the foreign origin kept
    assert sent[0]["enabled"] is True  # weight 0 drains new traffic; the origin stays enabled
    assert fake.pools[POOL]["origin_steering"] == {"policy": "random"}


def test_read_only_origin_fields_are_not_sent_back(fake, backend):
    fake.pools[POOL]["origins"][1].update(enabled=False, disabled_at="2025-01-01T00:00:00Z")
    backend.set_weights({"us-west-2": 40, "eu-west-1": 30, "ap-south-1": 20})
    legacy = fake.writes[0].body["origins"][1]
    assert legacy == {"name": "legacy-dc", "address": "192.0.2.99", "enabled": False, "weight": Decimal("0.7")}


@pytest.mark.parametrize(
    ("weights", "error", "message"),
    [
        ({"us-west-2": 150}, ValueError, r"Cloudflare origin weights are 0\.00-1\.00; region us-west-2 has weight 150"),
        ({"us-west-2": 300}, ValueError, r"0\.\.255"),
        ({"us-west-2": -1}, ValueError, r"0\.\.255"),
        ({"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 0}, ValueError, "positive"),
        ({"mars": 1}, ValueError, "unknown region"),
    ],
)
def test_bad_weights_are_refused_before_any_request(fake, backend, weights, error, message):
    with pytest.raises(error, match=message):
        backend.set_weights(weights)
    assert fake.requests == []


def test_bad_token_is_a_clear_error(fake, monkeypatch):
    backend = make_backend(fake, monkeypatch, token="wrong-token")
    with pytest.raises(TrafficBackendError, match=r"HTTP 401: \[10000\] Authentication error") as info:
        backend.get_weights()
    assert "wrong-token" not in str(info.value)
    assert [r.status for r in fake.requests] == [401]


def test_unknown_pool_is_a_clear_error(fake, monkeypatch):
    backend = make_backend(fake, monkeypatch, pool_id="no-such-pool")
    with pytest.raises(TrafficBackendError, match=r"read of pool no-such-pool .* HTTP 404: \[1002\] pool not found"):
        backend.set_weights({"us-west-2": 100})


def test_region_without_origin_reads_zero_and_is_not_created(fake, backend):
    fake.pools[POOL]["origins"] = [o for o in fake.pools[POOL]["origins"] if o["name"] != "ap-south-1"]
    assert backend.get_weights()["ap-south-1"] == 0
    with pytest.raises(TrafficBackendError, match=r"no origin named \['ap-south-1'\]"):
        backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20})
    assert fake.writes == []
    assert backend.set_weights({"us-west-2": 60, "eu-west-1": 40, "ap-south-1": 0}) is True


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"weight": 1.5}, r"origins\[0\]\.weight: must be 0\.00-1\.00"),
        ({"weight": 0.333}, r"origins\[0\]\.weight: must be 0\.00-1\.00"),
        ({"weight": True}, r"origins\[0\]\.weight: invalid type"),
        ({"weigth": 0.5}, r"origins\[0\]\.weigth: unknown field"),
        ({"address": ""}, r"origins\[0\]\.address: required"),
        ({"header": {"Host": ["a", "b"]}}, r"origins\[0\]\.header\.Host: at most one"),
    ],
)
def test_fake_rejects_malformed_origins(fake, bad, message):
    client = cloudflare.Cloudflare(api_token=TOKEN, base_url=fake.base_url, max_retries=0)
    origins = [{**origin("us-west-2", "203.0.113.10", 0.5), **bad}]
    with pytest.raises(cloudflare.BadRequestError) as info:
        client.load_balancers.pools.edit(POOL, account_id=ACCOUNT, origins=origins)
    [error] = info.value.body["errors"]
    assert info.value.body["success"] is False
    assert re.search(message, error["message"])
    assert fake.pools[POOL] == initial_pool()  # nothing applied


def test_fake_checks_pool_fields_content_type_and_put(fake):
    client = cloudflare.Cloudflare(api_token=TOKEN, base_url=fake.base_url, max_retries=0)
    with pytest.raises(cloudflare.BadRequestError, match="colour: unknown field"):
        client.load_balancers.pools.edit(POOL, account_id=ACCOUNT, extra_body={"colour": "blue"})
    url = f"{fake.base_url}/accounts/{ACCOUNT}/load_balancers/pools/{POOL}"
    resp = httpx.patch(url, content=b'{"enabled": false}', headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 400 and "Content-Type" in resp.json()["errors"][0]["message"]
    with pytest.raises(cloudflare.BadRequestError, match="name: required"):
        client.put(f"/accounts/{ACCOUNT}/load_balancers/pools/{POOL}", body={"origins": []}, cast_to=httpx.Response)
    pool = client.load_balancers.pools.update(
        POOL, account_id=ACCOUNT, name="api-pool", origins=[origin("eu-west-1", "198.51.100.20", 1)]
    )
    assert [o.name for o in pool.origins] == ["eu-west-1"] and pool.id == POOL
    assert "minimum_origins" not in fake.pools[POOL]  # PUT replaced the writable fields


ZONE, LB = "023e105f4ecef8ad9ca31a8372d0c353", "699d98642c564d2e855e9661899b7252"
NEAR = {"us-west-2": "a" * 32, "eu-west-1": "b" * 32, "ap-south-1": "c" * 32}


def _pool(pool_id: str) -> dict:
    regions = ("us-west-2", "eu-west-1", "ap-south-1")
    origins = [origin(r, f"192.0.2.{i}", 0.5) for i, r in enumerate(regions)]
    return {"id": pool_id, "name": pool_id[:8], "origins": origins}


def test_each_location_gets_its_own_pool_and_geo_steering_sends_it_there(monkeypatch):
    """The world's topology (regions with nearest clients) on Cloudflare: one pool per region's
    clients, weighted by that location's shares; the load balancer steers by region to them."""
    pools = {POOL: _pool(POOL), **{p: _pool(p) for p in NEAR.values()}}
    with CloudflareFake(TOKEN, ACCOUNT, pools, ZONE, {LB: {"id": LB, "steering_policy": "off"}}) as fake:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "http", "host": fake.base_url,
                                                                          "password": TOKEN}))  # fmt: skip
        topology = load_topology()
        config = CloudflareConfig(kind="cloudflare", conn_id=CONN_ID, account_id=ACCOUNT, pool_id=POOL,
                                  location_pools=NEAR, load_balancer={"zone_id": ZONE, "id": LB})  # fmt: skip
        topology = topology.model_copy(update={"traffic": topology.traffic.model_copy(update={"backend": config})})
        backend = backend_for(topology)

        def pool_weights(pool_id: str) -> dict[str, float]:
            return {o["name"]: float(o["weight"]) for o in fake.pools[pool_id]["origins"]}

        assert backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}) is True
        assert pool_weights(POOL) == {"us-west-2": 0.5, "eu-west-1": 0.3, "ap-south-1": 0.2}
        assert pool_weights(NEAR["ap-south-1"]) == {"us-west-2": 0.0, "eu-west-1": 0.0, "ap-south-1": 1.0}
        balancer = fake.balancers[LB]
        assert balancer["steering_policy"] == "geo"
        assert balancer["region_pools"]["WEU"] == [NEAR["eu-west-1"]] and balancer["region_pools"]["SAS"] == [
            NEAR["ap-south-1"]
        ]
        assert len(balancer["region_pools"]) == 13  # every Cloudflare region has a pool

        # ap-south-1 drained: Asia's clients go to its next nearest, eu-west-1; a restoration step
        # (10 %) brings a tenth back. The steering is already right: not written again.
        lb_writes = len([w for w in fake.writes if "/zones/" in w.path])
        backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 0})
        assert pool_weights(NEAR["ap-south-1"]) == {"us-west-2": 0.0, "eu-west-1": 1.0, "ap-south-1": 0.0}
        backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 2})
        assert pool_weights(NEAR["ap-south-1"]) == {"us-west-2": 0.0, "eu-west-1": 0.9, "ap-south-1": 0.1}
        assert backend.get_weights() == {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 2}
        assert len([w for w in fake.writes if "/zones/" in w.path]) == lb_writes


def test_location_pools_need_a_load_balancer_and_known_regions():
    with pytest.raises(ValueError, match=r"needs traffic\.backend\.load_balancer"):
        _with_backend({"location_pools": {"us-west-2": "a" * 32}})
    with pytest.raises(ValueError, match=r"unknown region\(s\) \['mars-1'\]"):
        _with_backend({"location_pools": {"mars-1": "a" * 32}, "load_balancer": {"zone_id": ZONE, "id": LB}})


def _with_backend(extra: dict):
    import yaml

    from multiregion.core.topology import parse_topology

    raw = yaml.safe_load((PROJECT_ROOT / "config" / "topology.local.yaml").read_text())
    raw["traffic"]["backend"] = {"kind": "cloudflare", "conn_id": CONN_ID, "account_id": ACCOUNT, "pool_id": POOL,
                                 **extra}  # fmt: skip
    return parse_topology(yaml.safe_dump(raw), source="cf.yaml", env={})
