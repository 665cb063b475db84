"""Where the world keeps its state and which ports its infrastructure uses.

Region-facing ports (stores, registries, serving, DNS, monitoring) come from the topology
file; the ports below are the world's own plumbing. Every one can be set from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from multiregion import PROJECT_ROOT
from multiregion.core.topology import Topology, load_topology


def _port(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{name}={value!r} is not a valid TCP port")
    return int(value)


def port_of(url: str) -> int:
    parsed = urlparse(url if "://" in url else f"tcp://{url}")
    if parsed.port is None:
        raise ValueError(f"{url!r} has no explicit port; the local world needs one")
    return parsed.port


@dataclass(frozen=True)
class WorldSettings:
    topology: Topology
    topology_path: Path
    state_dir: Path
    venv: Path
    airflow_port: int
    postgres_port: int
    moto_port: int
    pdns_api_port: int
    s3_internal_ports: tuple[int, int, int, int]  # SeaweedFS master, volume, filer, admin (gRPC: +10000)
    parallelism: int
    external_database_url: str | None
    kube_port: int = 18700  # the Kubernetes API emulator standing in for every region's cluster
    alert_sink_port: int = 18094  # the webhook receiver that records what Alertmanager delivered
    statsd_port: int = 18125  # UDP: Airflow's StatsD into the bridge
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def pdns_api_url(self) -> str:
        return f"http://127.0.0.1:{self.pdns_api_port}"

    @property
    def kube_url(self) -> str:
        return f"http://127.0.0.1:{self.kube_port}"

    @property
    def alert_sink_url(self) -> str:
        return f"http://127.0.0.1:{self.alert_sink_port}"


def load_settings(topology_path: str | os.PathLike[str] | None = None) -> WorldSettings:
    from multiregion.core.topology import default_topology_path

    path = Path(topology_path) if topology_path else default_topology_path()
    topology = load_topology(path)
    state_dir = Path(os.environ.get("MR_WORLD_DIR") or PROJECT_ROOT / ".world").resolve()
    return WorldSettings(
        topology=topology,
        topology_path=path.resolve(),
        state_dir=state_dir,
        venv=Path(os.environ.get("MR_VENV") or PROJECT_ROOT / ".venv"),
        airflow_port=_port("MR_AIRFLOW_PORT", 18080),
        postgres_port=_port("MR_POSTGRES_PORT", 18432),
        moto_port=_port("MR_MOTO_PORT", 18403),
        pdns_api_port=_port("MR_PDNS_API_PORT", 18081),
        s3_internal_ports=(
            _port("MR_S3_MASTER_PORT", 18334),
            _port("MR_S3_VOLUME_PORT", 18335),
            _port("MR_S3_FILER_PORT", 18336),
            _port("MR_S3_ADMIN_PORT", 18337),
        ),
        parallelism=int(os.environ.get("MR_AIRFLOW_PARALLELISM", "4")),
        external_database_url=os.environ.get("MR_DATABASE_URL") or None,
        kube_port=_port("MR_KUBE_PORT", 18700),
        alert_sink_port=_port("MR_ALERT_SINK_PORT", 18094),
        statsd_port=_port("MR_STATSD_PORT", 18125),
    )
