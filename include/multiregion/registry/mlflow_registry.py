"""One region's MLflow model registry: resolve, find by lineage, register copies, smoke-test, alias.

Artifacts never pass through MLflow's artifact client (which stages on local disk): they are
copied store-to-store by the replication layer; this module only maps an MLflow artifact
location to (store, key prefix) in the region's own store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlparse

from multiregion.core.errors import BadInputError
from multiregion.core.topology import Region

REPLICATION_EXPERIMENT = "model-replication"

# Quick failure when a registry is down (MLflow retries for minutes by default), no progress bars in logs.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class ModelNotFoundError(BadInputError):
    pass


@dataclass(frozen=True)
class SourceVersion:
    name: str
    version: str
    model_id: str
    artifact_location: str
    description: str
    tags: dict[str, str]
    created_ms: int
    logged_model_name: str
    registered_model_description: str
    registered_model_tags: dict[str, str]


class RegionRegistry:
    """The MLflow registry of one region (tracking and registry on the same server)."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.uri = region.registry.uri

    @cached_property
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    # --- reading ---------------------------------------------------------------------------
    def resolve(self, name: str, version: str | None, alias: str | None) -> SourceVersion:
        from mlflow.exceptions import MlflowException

        try:
            registered = self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise ModelNotFoundError(f"unknown model {name!r} in the {self.region.name} registry") from None
            raise
        try:
            mv = (
                self.client.get_model_version(name, version)
                if version
                else self.client.get_model_version_by_alias(name, alias)
            )
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                what = f"version {version}" if version else f"alias {alias!r}"
                raise ModelNotFoundError(f"model {name!r} has no {what} in the {self.region.name} registry") from None
            raise
        if mv.status != "READY":
            raise ModelNotFoundError(f"model {name!r} version {mv.version} is {mv.status}, not READY")
        model_id = mv.model_id or _model_id_from_source(mv.source)
        if model_id is None:
            raise ModelNotFoundError(
                f"model {name!r} version {mv.version} has source {mv.source!r}; only versions of logged models "
                "(source models:/m-...) can be replicated"
            )
        logged = self.client.get_logged_model(model_id)
        return SourceVersion(
            name=name,
            version=str(mv.version),
            model_id=model_id,
            artifact_location=logged.artifact_location,
            description=mv.description or "",
            tags=dict(mv.tags or {}),
            created_ms=int(mv.creation_timestamp),
            logged_model_name=logged.name,
            registered_model_description=registered.description or "",
            registered_model_tags=dict(registered.tags or {}),
        )

    def versions_with_tag(self, name: str, key: str, value: str) -> list[Any]:
        from mlflow.exceptions import MlflowException

        try:
            versions = self.client.search_model_versions(f"name = '{name}'")
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return []
            raise
        return sorted((v for v in versions if (v.tags or {}).get(key) == value), key=lambda v: int(v.version))

    def alias_version(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    # --- writing -------------------------------------------------------------------------
    def ensure_registered_model(self, name: str, description: str, tags: dict[str, str]) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            self.client.create_registered_model(name, tags=tags or None, description=description or None)

    def replication_experiment(self) -> str:
        exp = self.client.get_experiment_by_name(REPLICATION_EXPERIMENT)
        return exp.experiment_id if exp else self.client.create_experiment(REPLICATION_EXPERIMENT)

    def logged_model_with_tag(self, experiment_id: str, key: str, value: str):
        models = self.client.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"tags.`{key}` = '{value}'"
        )
        return models[0] if models else None

    def create_logged_model(self, experiment_id: str, name: str, tags: dict[str, str]):
        return self.client.create_logged_model(experiment_id=experiment_id, name=name, tags=tags)

    def finalize_logged_model(self, model_id: str) -> None:
        from mlflow.entities import LoggedModelStatus

        self.client.finalize_logged_model(model_id, LoggedModelStatus.READY)

    def register(self, name: str, model_id: str, description: str, tags: dict[str, str]) -> str:
        mv = self.client.create_model_version(
            name, source=f"models:/{model_id}", model_id=model_id, tags=tags, description=description or None
        )
        return str(mv.version)

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(name, version, key, value)

    def set_alias(self, name: str, alias: str, version: str) -> bool:
        """Point ``alias`` at ``version``; False (and no write) if it already does."""
        if self.alias_version(name, alias) == str(version):
            return False
        self.client.set_registered_model_alias(name, alias, str(version))
        return True

    def smoke_test(self, name: str, version: str) -> dict[str, Any]:
        """Load the version from this registry and predict on its own input example."""
        import mlflow
        import mlflow.pyfunc

        # load_model reads the process-wide URIs: set them for the call, then put back the caller's
        # (a pipeline in the same process would otherwise register into this region).
        before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        # MLflow leaves every downloaded model in TMPDIR forever: use our own dir and remove it.
        dst = tempfile.mkdtemp(prefix=f"smoke-{name}-{version}-")
        try:
            model = mlflow.pyfunc.load_model(f"models:/{name}/{version}", dst_path=dst)
            example = model.input_example
            if example is None:
                raise ValueError(f"model {name!r} v{version} has no input example to smoke-test with")
            predictions = model.predict(example)
        finally:
            shutil.rmtree(dst, ignore_errors=True)
            mlflow.set_tracking_uri(before[0])
            mlflow.set_registry_uri(before[1])
        values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
        return {"rows": len(values), "sample": values[:3]}


def _model_id_from_source(source: str) -> str | None:
    if source.startswith("models:/m-") and source.count("/") == 1:
        return source.split("/", 1)[1]
    return None


def artifact_key_prefix(region: Region, artifact_location: str) -> str:
    """The key prefix, in ``region``'s own store, of an MLflow artifact location.

    ``mlflow-artifacts:/x`` is served from the registry's artifact root; a direct store URI must
    name the region's own bucket.
    """
    root = urlparse(region.registry.artifact_root)
    if artifact_location.startswith("mlflow-artifacts:"):
        path = artifact_location.split(":", 1)[1].lstrip("/")
        base = root.path.strip("/")
        return f"{base}/{path}/" if base else f"{path}/"
    loc = urlparse(artifact_location)
    bucket = loc.netloc.split("@", 1)[0]
    if bucket != region.storage.bucket:
        raise ValueError(
            f"artifact location {artifact_location!r} is not in {region.name}'s store {region.storage.bucket}"
        )
    return loc.path.strip("/") + "/"
