"""Scaling schedules in config (``config/scaling.yaml``), overridable per Deployment by annotations.

    interval: 5m                 # how often scaling_schedule decides
    dry_run: false               # true: decide and report, scale nothing
    requests_per_replica: 20     # req/s one serving replica carries (failover headroom)
    defaults: {grace_period: 15m}
    regions:
      us-west-2:
        model-server:
          downtime: "Mon-Fri 22:00-06:00 America/Los_Angeles"
          downtime_replicas: 1

Annotations under ``scaling.multiregion.io/`` (uptime, downtime, exclude, exclude-until,
downtime-replicas, min-replicas, grace-period) override the file for one Deployment;
``scaling.multiregion.io/original-replicas`` is the record the schedule restores from. Every error
names the file (or the Deployment's annotation), the region/deployment and the bad token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import yaml

from multiregion.core.config_files import read_config
from multiregion.core.scaling import Schedule
from multiregion.core.schedules import ScheduleError, parse_duration, parse_spec, parse_until
from multiregion.core.topology import Topology

SCALING_ENV = "MR_SCALING"
PREFIX = "scaling.multiregion.io/"
ORIGINAL_REPLICAS = PREFIX + "original-replicas"
FIELDS = ("uptime", "downtime", "exclude", "exclude_until", "downtime_replicas", "min_replicas", "grace_period")
ANNOTATIONS = {PREFIX + f.replace("_", "-"): f for f in FIELDS}


@dataclass(frozen=True)
class ScalingConfig:
    interval: timedelta
    dry_run: bool
    requests_per_replica: float
    schedules: dict[tuple[str, str], Schedule]  # (region, deployment) -> schedule from the file
    source: str

    def schedule_for(self, region: str, deployment: str, annotations: dict[str, str]) -> Schedule | None:
        """The deployment's schedule: the file's, with its annotations on top (None: unscheduled)."""
        base = self.schedules.get((region, deployment))
        overrides = {ANNOTATIONS[k]: v for k, v in annotations.items() if k in ANNOTATIONS}
        if base is None and not overrides:
            return None
        where = f"deployment {region}/{deployment}: annotation {PREFIX}"
        fields = {f: _field(f, v, f"{where}{f.replace('_', '-')}") for f, v in overrides.items()}
        return replace(base or Schedule(serving=False), **fields)


def original_replicas(region: str, deployment: str, annotations: dict[str, str]) -> int | None:
    value = annotations.get(ORIGINAL_REPLICAS)
    if value is None:
        return None
    if not value.isdigit():
        raise ScheduleError(f"deployment {region}/{deployment}: annotation {ORIGINAL_REPLICAS}: bad value {value!r}")
    return int(value)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise ScheduleError(f"{where}: {value!r} is not a whole number >= 0")
    return int(value)


def _bool(value: Any, where: str) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ScheduleError(f"{where}: {value!r} is not true or false")
    return text == "true"


def _field(name: str, value: Any, where: str) -> Any:
    if name in ("uptime", "downtime"):
        return parse_spec(str(value), where)
    if name == "exclude":
        return _bool(value, where)
    if name == "exclude_until":
        return parse_until(value, where)
    if name == "grace_period":
        return parse_duration(value, where)
    return _int(value, where)


def parse_scaling(text: str, topology: Topology, source: str = "scaling.yaml") -> ScalingConfig:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ScheduleError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScheduleError(f"{source}: expected a mapping at the top")
    unknown = set(raw) - {"interval", "dry_run", "requests_per_replica", "defaults", "regions"}
    if unknown:
        raise ScheduleError(f"{source}: unknown field(s) {sorted(unknown)}")
    defaults = raw.get("defaults") or {}
    schedules = {}
    for region, deployments in (raw.get("regions") or {}).items():
        if region not in topology.region_names:
            raise ScheduleError(f"{source}: unknown region {region!r} (topology has {topology.region_names})")
        reg = topology.region(region)
        for name, spec in (deployments or {}).items():
            where = f"{source}: {region}/{name}"
            fields = {**defaults, **(spec or {})}
            bad = set(fields) - set(FIELDS)
            if bad:
                raise ScheduleError(f"{where}: unknown field(s) {sorted(bad)} (known: {', '.join(FIELDS)})")
            serving = name == reg.kubernetes.deployment
            values = {f: _field(f, v, f"{where}: {f}") for f, v in fields.items()}
            values.setdefault("min_replicas", reg.kubernetes.min_replicas if serving else 0)
            schedules[(region, name)] = Schedule(serving=serving, **values)
    rate = raw.get("requests_per_replica", 20)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
        raise ScheduleError(f"{source}: requests_per_replica: {rate!r} must be a positive number")
    return ScalingConfig(
        interval=parse_duration(raw.get("interval", "5m"), f"{source}: interval"),
        dry_run=_bool(raw.get("dry_run", False), f"{source}: dry_run"),
        requests_per_replica=float(rate),
        schedules=schedules,
        source=source,
    )


def load_scaling(topology: Topology, path: str | os.PathLike[str] | None = None) -> ScalingConfig:
    """The scaling config at ``path``, ``$MR_SCALING`` or config/scaling.yaml."""
    text, source = read_config(path, SCALING_ENV, "scaling.yaml", ScheduleError, "scaling config")
    return parse_scaling(text, topology, source=source)
