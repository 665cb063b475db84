"""One sanitiser for names built from user input: Airflow run ids and object keys."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(text: str, keep_last: int | None = None) -> str:
    """``text`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``_`` (valid in an
    Airflow run id and in any store's object key); its last ``keep_last`` characters if longer
    (the tail of a run id carries its timestamp, which keeps it unique)."""
    safe = _UNSAFE.sub("_", text)
    return safe[-keep_last:] if keep_last else safe
