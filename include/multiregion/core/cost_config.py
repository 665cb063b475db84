"""The cost analyzer's configuration (``config/cost.yaml``), validated against the topology (pure).

Where each cloud's FOCUS export lives (a topology region's store, a prefix and the export's name,
in that cloud's native layout), each cloud's native region ids mapped to our region names, the
restatement window, the anomaly method's settings, how egress rows are recognised, and spot and
scale-down assumptions. Every error names the file and the field.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from multiregion.core.config_files import read_config
from multiregion.core.errors import BadInputError
from multiregion.core.topology import Topology, describe_validation_error

COST_ENV = "MR_COST_CONFIG"


class CostConfigError(BadInputError):
    pass


class Layout(StrEnum):
    AWS_DATA_EXPORTS = "aws_data_exports"  # <prefix>/<export>/{data,metadata}/BILLING_PERIOD=YYYY-MM/
    AZURE_COST_MANAGEMENT = "azure_cost_management"  # <prefix>/<export>/<YYYYMMDD-YYYYMMDD>/<run>/...
    GCS_FOCUS_EXPORT = "gcs_focus_export"  # <prefix>/<export>/BILLING_PERIOD=YYYY-MM/<run>/*.parquet + _SUCCESS


LAYOUT_CLOUD = {Layout.AWS_DATA_EXPORTS: "aws", Layout.AZURE_COST_MANAGEMENT: "azure", Layout.GCS_FOCUS_EXPORT: "gcp"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EgressMatch(_Strict):
    """FOCUS rows that are data leaving the region: ``column`` matches the SQL LIKE ``pattern``."""

    column: str = "ChargeDescription"
    pattern: str = Field(min_length=1)
    unit: str = "GB"  # ConsumedUnit of those rows (their ConsumedQuantity is GB moved)


class Spot(_Strict):
    discount: float = Field(gt=0, lt=1)  # typical spot discount off the list price
    interruption: str = "unknown"  # the published interruption bucket, for the report


class ExportSpec(_Strict):
    layout: Layout
    region: str  # the topology region whose store holds the export
    prefix: str = ""
    export: str = Field(min_length=1)
    region_ids: dict[str, str] = Field(min_length=1)  # the cloud's native region id -> our region
    egress: EgressMatch
    spot: Spot


class CrossCheck(_Strict):
    conn_id: str = Field(min_length=1)  # the AWS connection that reaches Cost Explorer
    tolerance: float = Field(default=0.01, ge=0)  # absolute difference per day that alerts


class Anomaly(_Strict):
    baseline_weeks: int = Field(default=6, ge=1)
    min_history: int = Field(default=3, ge=1)
    threshold: float = Field(default=3.5, gt=0)
    impact_floor: float = Field(default=50.0, ge=0)
    settle_days: int = Field(default=2, ge=0)


class ScaleDown(_Strict):
    weeks: int = Field(default=4, ge=1)  # request-rate history read from Prometheus
    low_fraction: float = Field(default=0.25, gt=0, lt=1)  # an hour is low below this share of the peak hour
    min_hours: int = Field(default=3, ge=1)  # shortest window worth a schedule
    replica_hour_cost: float = Field(default=0.10, ge=0)  # what one serving replica-hour costs


class Retention(_Strict):
    keep_versions: int = Field(default=5, ge=1)  # versions kept per charge day (restatements)
    min_age_hours: float = Field(default=24, ge=1)  # unpublished files younger than this are a run in flight


class CostConfig(_Strict):
    currency: str = "USD"
    schedule: str = "30 6 * * *"  # nightly, after the exports of the day before landed
    window_days: int = Field(default=14, ge=1)  # re-ingested every run (exports restate)
    table: str = Field(default="focus_costs", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    reports_prefix: str = "cost/reports"
    clouds: dict[str, ExportSpec] = Field(min_length=1)
    cross_check: dict[str, CrossCheck] = Field(default_factory=dict)
    retention: Retention = Retention()
    anomaly: Anomaly = Anomaly()
    scale_down: ScaleDown = ScaleDown()

    @model_validator(mode="after")
    def _layouts_match_clouds(self) -> CostConfig:
        for cloud, spec in self.clouds.items():
            if LAYOUT_CLOUD[spec.layout] != cloud:
                raise ValueError(f"clouds.{cloud}.layout: {spec.layout.value} is {LAYOUT_CLOUD[spec.layout]}'s layout")
        for cloud in self.cross_check:
            if cloud != "aws":
                raise ValueError(f"cross_check.{cloud}: only aws (Cost Explorer) has a daily-totals API here")
        return self

    def region_of(self, cloud: str, native: str | None) -> str | None:
        return self.clouds[cloud].region_ids.get(native) if native else None


def parse_cost_config(text: str, topology: Topology, source: str = "cost.yaml") -> CostConfig:
    try:
        raw: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise CostConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise CostConfigError(f"{source}: expected a mapping at the top")
    try:
        config = CostConfig.model_validate(raw)
    except ValidationError as exc:
        raise CostConfigError(describe_validation_error(exc, source, raw)) from None
    problems = []
    for cloud, spec in config.clouds.items():
        if spec.region not in topology.region_names:
            problems.append(
                f"clouds.{cloud}.region: unknown region {spec.region!r} (topology: {topology.region_names})"
            )
        elif topology.region(spec.region).cloud.value != cloud:
            problems.append(f"clouds.{cloud}.region: {spec.region} is not on {cloud}")
        for native, ours in spec.region_ids.items():
            if ours not in topology.region_names:
                problems.append(f"clouds.{cloud}.region_ids.{native}: unknown region {ours!r}")
    if problems:
        raise CostConfigError("\n".join(f"{source}: {p}" for p in problems))
    return config


def load_cost_config(topology: Topology, path: str | os.PathLike[str] | None = None) -> CostConfig:
    """The cost config at ``path``, ``$MR_COST_CONFIG`` or config/cost.yaml."""
    text, source = read_config(path, COST_ENV, "cost.yaml", CostConfigError, "cost config")
    return parse_cost_config(text, topology, source=source)
