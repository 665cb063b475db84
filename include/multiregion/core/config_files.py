"""Where a config file is: an explicit path, else its ``MR_*`` environment variable, else config/."""

from __future__ import annotations

import os
from pathlib import Path


def config_file(path: str | os.PathLike[str] | None, env_var: str, default_name: str) -> Path:
    """``path`` if given, else ``$env_var``, else ``config/<default_name>`` in the project."""
    if path:
        return Path(path)
    if os.environ.get(env_var):
        return Path(os.environ[env_var])
    from multiregion import PROJECT_ROOT

    return PROJECT_ROOT / "config" / default_name


def read_config(
    path: str | os.PathLike[str] | None, env_var: str, default_name: str, error: type[Exception], what: str
) -> tuple[str, str]:
    """The config file's text and its name for messages; ``error`` naming it if it can't be read."""
    file = config_file(path, env_var, default_name)
    try:
        return file.read_text(), str(file)
    except OSError as exc:
        raise error(f"{file}: cannot read {what}: {exc.strerror}") from None
