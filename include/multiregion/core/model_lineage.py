"""Model replication logic that needs no I/O: artifact digests, lineage tags, promotion decisions.

The lineage tag is the idempotency key: a region that already has a version with the same
(source registry, model, version, artifact digest) is not given a second copy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from multiregion.core.datasets import DEFAULT_LAG_SLO_MINUTES
from multiregion.core.errors import BadInputError

LAG_SLO_TAG = "mr.replication_lag_slo_minutes"  # a registered model's replication SLO (default 15)

LINEAGE_KEY = "mr.lineage.key"
LINEAGE_SOURCE_REGISTRY = "mr.lineage.source_registry"
LINEAGE_SOURCE_VERSION = "mr.lineage.source_version"
LINEAGE_ARTIFACT_DIGEST = "mr.lineage.artifact_digest"
VERIFIED = "mr.verified"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$"
ALIAS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$"
VERSION_PATTERN = r"^[0-9]+$"
_MODEL_NAME, _ALIAS = re.compile(MODEL_NAME_PATTERN), re.compile(ALIAS_PATTERN)


@dataclass(frozen=True)
class ModelRequest:
    model: str
    version: str | None
    alias: str | None
    promote_alias: str
    promote: bool = True  # False: register and verify everywhere, move no alias (staged)


def parse_request(params: dict) -> ModelRequest:
    """Validate the DAG's params; every problem is named."""
    model = str(params.get("model") or "").strip()
    version = str(params.get("version") or "").strip() or None
    alias = str(params.get("alias") or "").strip() or None
    promote = str(params.get("promote_alias") or "champion").strip()
    if not _MODEL_NAME.match(model):
        raise BadInputError(f"model: {model!r} is not a valid registered model name")
    if (version is None) == (alias is None):
        raise BadInputError("give exactly one of version or alias")
    if version is not None and not version.isdigit():
        raise BadInputError(f"version: {version!r} is not a version number")
    for field, value in (("alias", alias), ("promote_alias", promote)):
        if value is not None and (not _ALIAS.match(value) or value.lower() == "latest" or value[1:].isdigit()):
            raise BadInputError(f"{field}: {value!r} is not a valid alias")
    return ModelRequest(model, version, alias, promote, bool(params.get("promote", True)))


def artifact_digest(files: Iterable[tuple[str, str]]) -> str:
    """Digest of a model's artifacts from (relative path, sha256) pairs, order-independent."""
    h = hashlib.sha256()
    for path, sha in sorted(files):
        h.update(f"{path}\0{sha}\n".encode())
    return h.hexdigest()


def lineage_tags(source_registry: str, model: str, version: str, digest: str) -> dict[str, str]:
    key = hashlib.sha256(f"{source_registry}|{model}|{version}|{digest}".encode()).hexdigest()[:32]
    return {
        LINEAGE_KEY: key,
        LINEAGE_SOURCE_REGISTRY: source_registry,
        LINEAGE_SOURCE_VERSION: f"{model}/{version}",
        LINEAGE_ARTIFACT_DIGEST: digest,
    }


def lag_slo_minutes(registered_model_tags: dict[str, str]) -> float:
    """The model's replication SLO from its registered-model tag; the default when absent or not a
    positive number (a bad tag must not stop a replication; the value used is in the metrics)."""
    try:
        value = float(registered_model_tags.get(LAG_SLO_TAG, DEFAULT_LAG_SLO_MINUTES))
    except ValueError:
        return DEFAULT_LAG_SLO_MINUTES
    return value if value > 0 else DEFAULT_LAG_SLO_MINUTES


def copyable_tags(tags: dict[str, str]) -> dict[str, str]:
    """Source version tags worth carrying over (not MLflow's internals, not our own lineage)."""
    return {k: v for k, v in tags.items() if not k.startswith(("mlflow.", "mr."))}


@dataclass(frozen=True)
class PromotionPlan:
    ready: bool
    failed: dict[str, str]  # region -> why
    moves: dict[str, str]  # region -> version the alias must point at


def plan_promotion(expected_regions: list[str], results: dict[str, dict], failures: dict[str, str]) -> PromotionPlan:
    """Two-phase promotion: aliases move only if every region verified its copy."""
    # A region that failed a try but then verified on a retry counts as verified.
    failed = {r: why for r, why in failures.items() if not results.get(r, {}).get("verified")}
    for region in expected_regions:
        if region not in results and region not in failed:
            failed[region] = "did not report a verified version"
        elif region in results and not results[region].get("verified"):
            failed[region] = results[region].get("error", "not verified")
    if failed:
        return PromotionPlan(False, failed, {})
    return PromotionPlan(True, {}, {r: str(results[r]["version"]) for r in expected_regions})
