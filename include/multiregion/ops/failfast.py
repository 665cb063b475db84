"""Permanent failures (bad input, failed validation) fail the task at once, without retries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from multiregion.core.errors import BadInputError, PermanentError


@contextmanager
def fail_fast_on_bad_input() -> Iterator[None]:
    try:
        yield
    except PermanentError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        prefix = "bad input" if isinstance(exc, BadInputError) else type(exc).__name__
        raise AirflowFailException(f"{prefix}: {exc}") from exc
