"""Resolve a registered model's alias in a regional MLflow registry and load that version."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    model: Any
    loaded_at: float


class AliasFollower:
    """Keeps the model that ``name@alias`` points to loaded; swaps atomically when the alias moves."""

    def __init__(self, registry_uri: str, name: str, alias: str, refresh_seconds: float = 5.0) -> None:
        self.registry_uri = registry_uri
        self.name = name
        self.alias = alias
        self.refresh_seconds = refresh_seconds
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alias-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.refresh_seconds)

    def refresh(self) -> None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            client = MlflowClient(tracking_uri=self.registry_uri, registry_uri=self.registry_uri)
            version = client.get_model_version_by_alias(self.name, self.alias).version
        except MlflowException as exc:
            # No such model/alias yet is a normal state for a fresh region.
            self.last_error = None if exc.error_code == "RESOURCE_DOES_NOT_EXIST" else str(exc)[:300]
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                self.current = None
            return
        except Exception as exc:  # noqa: BLE001 - registry unreachable: keep serving what we have
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            return
        if self.current and self.current.version == str(version):
            self.last_error = None
            return
        self._load(str(version))

    def _load(self, version: str) -> None:
        import mlflow.pyfunc

        started = time.monotonic()
        # MLflow leaves every downloaded model in TMPDIR forever: use and remove our own dir.
        dst = tempfile.mkdtemp(prefix=f"model-{self.name}-{version}-")
        try:
            mlflow.set_tracking_uri(self.registry_uri)
            mlflow.set_registry_uri(self.registry_uri)
            model = mlflow.pyfunc.load_model(f"models:/{self.name}/{version}", dst_path=dst)
        except Exception as exc:
            self.last_error = f"loading {self.name} v{version} failed: {exc}"[:300]
            log.exception("loading %s v%s failed", self.name, version)
            return
        finally:
            shutil.rmtree(dst, ignore_errors=True)
        self.current = LoadedModel(self.name, version, model, time.time())
        self.last_error = None
        log.info("now serving %s v%s (loaded in %.2fs)", self.name, version, time.monotonic() - started)
