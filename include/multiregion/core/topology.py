"""Region topology: one declarative YAML file, loaded into typed, validated objects.

The file is the single place where regions, stores, registries, endpoints and the traffic
backend are named; no region, bucket or port is hard-coded in code. String values may use
``${VAR}`` or ``${VAR:-default}`` so ports and hosts can be changed from the environment.

Errors are collected and reported together, each naming the file, the region and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
    model_validator,
)

from multiregion.core.config_files import config_file
from multiregion.core.errors import BadInputError

TOPOLOGY_ENV = "MR_TOPOLOGY"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_REGION_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


class TopologyError(ValueError):
    """A topology file that cannot be used. The message names the file, region and field."""


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


class StoreKind(StrEnum):
    S3 = "s3"
    GCS = "gcs"
    AZURE_BLOB = "azure_blob"


# Which object store each cloud provides; a region's store must match its cloud.
CLOUD_STORE = {Cloud.AWS: StoreKind.S3, Cloud.GCP: StoreKind.GCS, Cloud.AZURE: StoreKind.AZURE_BLOB}


def _check_url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ValueError(f"{value!r} is not a valid URI (expected scheme {' or '.join(schemes)})")
    if parsed.scheme in ("http", "https"):
        if not parsed.hostname:
            raise ValueError(f"{value!r} has no host")
        try:
            parsed.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise ValueError(f"{value!r} has a bad port") from exc
    return value


HttpUrl = Annotated[str, Field(min_length=1)]
ConnId = Annotated[str, Field(pattern=_CONN_ID.pattern, min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Storage(_Model):
    kind: StoreKind
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    conn_id: ConnId
    # Only for stand-in servers; real clouds use the SDK's default endpoint.
    endpoint: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        return _check_url(v, ("http", "https"))


class Registry(_Model):
    uri: str
    # Where this region's registry keeps artifacts (a URI in the region's own store).
    artifact_root: str

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        return _check_url(v, ("http", "https", "databricks"))

    @field_validator("artifact_root")
    @classmethod
    def _artifact_root(cls, v: str) -> str:
        return _check_url(v, ("s3", "gs", "wasbs", "mlflow-artifacts"))


class Serving(_Model):
    endpoints: Annotated[list[str], Field(min_length=1)]
    model: Annotated[str, Field(min_length=1)]
    alias: Annotated[str, Field(min_length=1)] = "champion"

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, v: list[str]) -> list[str]:
        for url in v:
            _check_url(url, ("http", "https"))
        return v


class Kubernetes(_Model):
    conn_id: ConnId
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    deployment: Annotated[str, Field(min_length=1)]
    min_replicas: Annotated[int, Field(ge=0)] = 1
    max_replicas: Annotated[int, Field(ge=1)] = 10


# Cloudflare's load-balancing region codes (geo steering's region_pools keys)
CLOUDFLARE_REGIONS = ("WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS")


class Nearest(_Model):
    """The clients this region is nearest to, and where they go when it is out (next nearest
    first). Each backend answers by its own notion of location: PowerDNS by the client's address
    (EDNS Client Subnet, else its source address), Route53 by geolocation, Cloudflare by region."""

    client_subnets: list[IPvAnyNetwork] = Field(default_factory=list)
    geo: dict[Literal["continent", "country", "subdivision"], str] = Field(default_factory=dict)
    cloudflare_regions: list[Literal[CLOUDFLARE_REGIONS]] = Field(default_factory=list)
    fallbacks: list[str] = Field(default_factory=list)


class RegionTraffic(_Model):
    # Identifies the region's share in the global record: a Route53 SetIdentifier, a
    # Cloudflare pool origin name, or the local DNS answer's label.
    set_identifier: Annotated[str, Field(min_length=1)]
    address: Annotated[str, Field(min_length=1)]
    weight: Annotated[int, Field(ge=0, le=255)]
    nearest: Nearest | None = None


class Region(_Model):
    name: Annotated[str, Field(pattern=_REGION_NAME.pattern)]
    cloud: Cloud
    primary: bool = False
    storage: Storage
    registry: Registry
    serving: Serving
    kubernetes: Kubernetes
    traffic: RegionTraffic
    cost_tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _store_matches_cloud(self) -> Region:
        expected = CLOUD_STORE[self.cloud]
        if self.storage.kind != expected:
            raise ValueError(
                f"storage.kind {self.storage.kind.value!r} does not match cloud "
                f"{self.cloud.value!r} (expected {expected.value!r})"
            )
        return self


class PowerDnsBackend(_Model):
    kind: Literal["powerdns"]
    conn_id: ConnId  # HTTP connection: host = API URL, password = API key
    server_id: str = "localhost"
    # Where to resolve the record to verify a change took effect (host:port).
    nameserver: str


class Route53Backend(_Model):
    kind: Literal["route53"]
    conn_id: ConnId
    hosted_zone_id: Annotated[str, Field(min_length=1)]


class CloudflareLoadBalancer(_Model):
    zone_id: Annotated[str, Field(min_length=1)]
    id: Annotated[str, Field(min_length=1)]


class CloudflareBackend(_Model):
    kind: Literal["cloudflare"]
    conn_id: ConnId  # password = API token
    account_id: Annotated[str, Field(min_length=1)]
    pool_id: Annotated[str, Field(min_length=1)]  # every client of no location: the regions' weights
    # Nearest region: one pool per region's clients (same origins, that location's shares), and the
    # load balancer whose geo steering sends each region's Cloudflare regions to its pool.
    location_pools: dict[str, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)
    load_balancer: CloudflareLoadBalancer | None = None


class Traffic(_Model):
    zone: Annotated[str, Field(min_length=1)]
    record: Annotated[str, Field(min_length=1)]
    ttl: Annotated[int, Field(ge=1, le=86400)] = 30
    backend: Annotated[PowerDnsBackend | Route53Backend | CloudflareBackend, Field(discriminator="kind")]


class Monitoring(_Model):
    prometheus_url: str
    pushgateway_url: str
    alertmanager_url: str
    # Where Airflow's StatsD metrics are exposed for Prometheus (statsd-exporter, or the world's bridge)
    airflow_metrics_url: str | None = None
    drained_too_long_minutes: Annotated[float, Field(gt=0)] = 60  # RegionDrainedTooLong
    maintenance_too_long_hours: Annotated[float, Field(gt=0)] = 24  # RegionMaintenanceTooLong

    @field_validator("prometheus_url", "pushgateway_url", "alertmanager_url", "airflow_metrics_url")
    @classmethod
    def _urls(cls, v: str | None) -> str | None:
        return v if v is None else _check_url(v, ("http", "https"))


class Vantage(_Model):
    """A place the health watcher probes the regions from. In the local world, a loopback source
    address (each can be cut off on its own, e.g. with nftables); unset: the host's default."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    source_address: IPvAnyAddress | None = None


class Health(_Model):
    """Health judged from more than one place: a region's probe round fails only when at least
    ``quorum`` vantage points saw it fail, so one broken path drains nothing."""

    vantages: Annotated[list[Vantage], Field(min_length=1)] = [Vantage(name="central")]
    quorum: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _quorum_reachable(self) -> Health:
        names = [v.name for v in self.vantages]
        if len(set(names)) != len(names):
            raise ValueError(f"health.vantages: duplicate names in {names}")
        if self.quorum > len(self.vantages):
            raise ValueError(f"health.quorum {self.quorum} exceeds the {len(self.vantages)} vantage point(s)")
        return self


class Topology(_Model):
    version: Literal[1]
    name: Annotated[str, Field(min_length=1)]
    regions: Annotated[list[Region], Field(min_length=1)]
    traffic: Traffic
    monitoring: Monitoring
    health: Health = Health()

    @model_validator(mode="after")
    def _regions_consistent(self) -> Topology:
        seen: set[str] = set()
        for region in self.regions:
            if region.name in seen:
                raise ValueError(f"regions: duplicate region {region.name!r}")
            seen.add(region.name)
        primaries = [r.name for r in self.regions if r.primary]
        if len(primaries) != 1:
            raise ValueError(f"regions: exactly one region must be primary, found {primaries or 'none'}")
        for attr in ("set_identifier", "address"):
            values = [getattr(r.traffic, attr) for r in self.regions]
            if len(set(values)) != len(values):
                raise ValueError(f"regions: traffic.{attr} must be unique across regions, got {values}")
        pools = getattr(self.traffic.backend, "location_pools", {})
        if set(pools) - seen:
            raise ValueError(f"traffic.backend.location_pools: unknown region(s) {sorted(set(pools) - seen)}")
        if pools and getattr(self.traffic.backend, "load_balancer", None) is None:
            raise ValueError("traffic.backend.location_pools needs traffic.backend.load_balancer (zone_id, id)")
        for region in self.regions:
            fallbacks = region.traffic.nearest.fallbacks if region.traffic.nearest else []
            bad = [f for f in fallbacks if f not in seen or f == region.name] + [
                f for i, f in enumerate(fallbacks) if f in fallbacks[:i]
            ]
            if bad:
                raise ValueError(
                    f"region {region.name!r}: traffic.nearest.fallbacks {bad} must be other known regions, each once"
                )
        return self

    @property
    def primary(self) -> Region:
        return next(r for r in self.regions if r.primary)

    @property
    def region_names(self) -> list[str]:
        return [r.name for r in self.regions]

    def region(self, name: str) -> Region:
        for region in self.regions:
            if region.name == name:
                return region
        raise KeyError(f"unknown region {name!r}; known regions: {', '.join(self.region_names)}")


def _interpolate(value: Any, path: str, env: dict[str, str], problems: list[str]) -> Any:
    """Expand ${VAR} / ${VAR:-default} in every string value (after YAML parsing)."""
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        problems.append(f"{path}: environment variable {name} is not set and has no default")
        return ""

    return _ENV_REF.sub(sub, value)


def _describe_location(loc: tuple[Any, ...], raw: Any) -> str:
    """Turn pydantic's ('regions', 1, 'storage', 'kind') into "region 'eu-west-1': storage.kind"."""
    if len(loc) >= 2 and loc[0] == "regions" and isinstance(loc[1], int):
        name = None
        regions = raw.get("regions") if isinstance(raw, dict) else None
        if isinstance(regions, list) and loc[1] < len(regions) and isinstance(regions[loc[1]], dict):
            name = regions[loc[1]].get("name")
        who = f"region {name!r}" if name else f"region #{loc[1] + 1}"
        field = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-"))
        return f"{who}: {field}" if field else who
    field = ".".join(str(p) for p in loc if not str(p).startswith(("function-", "tagged-union")))
    return field


def parse_topology(text: str, source: str = "<topology>", env: dict[str, str] | None = None) -> Topology:
    """Parse and validate topology YAML text; ``source`` names the file in error messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TopologyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TopologyError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    problems: list[str] = []
    expanded = _interpolate(raw, "", dict(os.environ if env is None else env), problems)
    if problems:
        raise TopologyError(f"{source}: " + "; ".join(problems))
    try:
        return Topology.model_validate(expanded)
    except ValidationError as exc:
        raise TopologyError(describe_validation_error(exc, source, expanded)) from None


def describe_validation_error(exc: ValidationError, source: str, raw: Any) -> str:
    """One line per problem of a config file: the file, where in it, and what is wrong."""
    lines = []
    for err in exc.errors():
        where = _describe_location(tuple(err["loc"]), raw)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "missing required field"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif isinstance(err.get("input"), str | int | float) and not err["type"].startswith("value_error"):
            msg = f"{msg} (got {err['input']!r})"
        lines.append(f"{source}: {where}: {msg}" if where else f"{source}: {msg}")
    return "\n".join(lines)


def default_topology_path() -> Path:
    return config_file(None, TOPOLOGY_ENV, "topology.local.yaml")


def load_topology(path: str | os.PathLike[str] | None = None) -> Topology:
    """Load the topology from ``path``, ``$MR_TOPOLOGY`` or config/topology.local.yaml."""
    file = Path(path) if path is not None else default_topology_path()
    try:
        text = file.read_text()
    except OSError as exc:
        raise TopologyError(f"{file}: cannot read topology file: {exc.strerror}") from exc
    return parse_topology(text, source=str(file))


class UnknownRegionError(BadInputError):
    pass


def select_regions(names: Iterable[str] | None, topology: Topology | None = None) -> list[Region]:
    """The regions named (all when ``names`` is empty), failing on any unknown name."""
    topo = topology or load_topology()
    wanted = list(names or [])
    if not wanted:
        return list(topo.regions)
    unknown = [n for n in wanted if n not in topo.region_names]
    if unknown:
        raise UnknownRegionError(f"unknown region(s) {unknown}; known regions: {topo.region_names}")
    return [topo.region(n) for n in dict.fromkeys(wanted)]
