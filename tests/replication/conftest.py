"""Helpers shared by the replication tests."""

from __future__ import annotations

import importlib.util

import pytest

from multiregion import PROJECT_ROOT


@pytest.fixture(scope="session")
def train():
    """train(name, registry_uri, extra_mib=0) -> version: the training pipeline's own function."""
    spec = importlib.util.spec_from_file_location("pipeline", PROJECT_ROOT / "scripts/train_and_replicate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(name: str, registry_uri: str, extra_mib: int = 0) -> str:
        return module.train_and_register(name, registry_uri, extra_mib=extra_mib, seed=3, on_registration=False)

    return run
