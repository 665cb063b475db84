"""Dataset catalog: which Parquet datasets exist, where their source lives, what "valid" means,
and which regions replicate them. One YAML file (config/datasets.yaml), validated against the
topology; errors name the file, the dataset and the field.
"""

from __future__ import annotations

import os
import re
from datetime import date
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from multiregion.core.config_files import config_file
from multiregion.core.errors import BadInputError
from multiregion.core.manifest import ALL_PARTITION
from multiregion.core.topology import Topology

DATASETS_ENV = "MR_DATASETS"
_NAME = r"^[a-z][a-z0-9-]{1,62}$"


DEFAULT_LAG_SLO_MINUTES = 15.0


class DatasetConfigError(ValueError):
    pass


class UnknownDatasetError(BadInputError):
    pass


class BadPartitionError(BadInputError):
    pass


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    region: str
    prefix: Annotated[str, Field(min_length=1)]

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"prefix {v!r} must be relative, without '..'")
        return v if v.endswith("/") else v + "/"


class Layout(_Model):
    partitioned_by: Literal["date", "none"] = "none"
    # Hive-style partition directory: <prefix><partition_key>=YYYY-MM-DD/...
    partition_key: str = "dt"


class Expectation(_Model):
    """A Great Expectations expectation: its snake_case type and its keyword arguments."""

    type: Annotated[str, Field(pattern=r"^expect_[a-z0-9_]+$")]
    kwargs: dict[str, Any] = Field(default_factory=dict)


class Retention(_Model):
    keep_versions: Annotated[int, Field(ge=1)] = 3
    # Grace period: nothing younger is collected, so copies in flight and readers keep their files.
    min_age_hours: Annotated[float, Field(ge=1)] = 24.0


class Dataset(_Model):
    name: Annotated[str, Field(pattern=_NAME)]
    description: str = ""
    owner: str = "ml-platform"
    source: Source
    layout: Layout = Layout()
    replicate_to: Annotated[list[str], Field(min_length=1)]
    nightly: bool = True  # replicated by the nightly scheduled run (besides source updates, UI and REST)
    expectations: list[Expectation] = Field(default_factory=list)
    retention: Retention = Retention()
    # A replica more than this behind its source alerts (ReplicationLagOverSLO), like S3 RTC's 15 min.
    lag_slo_minutes: Annotated[float, Field(gt=0)] = DEFAULT_LAG_SLO_MINUTES

    @model_validator(mode="after")
    def _targets(self) -> Dataset:
        if self.source.region in self.replicate_to:
            raise ValueError(f"replicate_to lists the source region {self.source.region!r}")
        if len(set(self.replicate_to)) != len(self.replicate_to):
            raise ValueError(f"replicate_to has duplicates: {self.replicate_to}")
        return self

    @property
    def partitioned(self) -> bool:
        return self.layout.partitioned_by == "date"

    def partition_for(self, value: str | date | None) -> str:
        """The partition to replicate: a date (YYYY-MM-DD) for partitioned datasets, else _all."""
        if not self.partitioned:
            if value not in (None, "", ALL_PARTITION):
                raise BadPartitionError(f"dataset {self.name!r} is not partitioned; got partition {value!r}")
            return ALL_PARTITION
        if value in (None, ""):
            raise BadPartitionError(f"dataset {self.name!r} is partitioned by date: give a partition date")
        text = value.isoformat() if isinstance(value, date) else str(value)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise BadPartitionError(f"malformed partition date {text!r} for dataset {self.name!r}: use YYYY-MM-DD")
        try:
            date.fromisoformat(text)
        except ValueError:
            raise BadPartitionError(f"malformed partition date {text!r}: no such day") from None
        return text

    def source_prefix(self, partition: str) -> str:
        if partition == ALL_PARTITION:
            return self.source.prefix
        return f"{self.source.prefix}{self.layout.partition_key}={partition}/"


class Catalog(_Model):
    version: Literal[1]
    datasets: list[Dataset]

    def get(self, name: str) -> Dataset:
        for ds in self.datasets:
            if ds.name == name:
                return ds
        known = ", ".join(d.name for d in self.datasets) or "none"
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {known}")


def _where(loc: tuple[Any, ...], raw: Any) -> str:
    if len(loc) >= 2 and loc[0] == "datasets" and isinstance(loc[1], int):
        items = raw.get("datasets") if isinstance(raw, dict) else None
        name = items[loc[1]].get("name") if isinstance(items, list) and loc[1] < len(items) else None
        rest = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-"))
        who = f"dataset {name!r}" if name else f"dataset #{loc[1] + 1}"
        return f"{who}: {rest}" if rest else who
    return ".".join(str(p) for p in loc)


def parse_catalog(text: str, topology: Topology, source: str = "<datasets>") -> Catalog:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DatasetConfigError(f"{source}: not valid YAML: {exc}") from exc
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _where(tuple(err["loc"]), raw)
            msg = "missing required field" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {where}: {msg}" if where else f"{source}: {msg}")
        raise DatasetConfigError("\n".join(lines)) from None
    problems = []
    names = [d.name for d in catalog.datasets]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{source}: duplicate dataset {dup!r}")
    for ds in catalog.datasets:
        for region in [ds.source.region, *ds.replicate_to]:
            if region not in topology.region_names:
                problems.append(
                    f"{source}: dataset {ds.name!r}: unknown region {region!r} (topology has {topology.region_names})"
                )
    if problems:
        raise DatasetConfigError("\n".join(problems))
    return catalog


def load_catalog(topology: Topology, path: str | os.PathLike[str] | None = None) -> Catalog:
    file = config_file(path, DATASETS_ENV, "datasets.yaml")
    try:
        text = file.read_text()
    except OSError as exc:
        raise DatasetConfigError(f"{file}: cannot read dataset catalog: {exc.strerror}") from exc
    return parse_catalog(text, topology, source=str(file))
