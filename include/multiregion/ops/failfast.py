"""Bad input fails the task at once (no retries), with the message naming the problem."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from multiregion.core.errors import BadInputError


@contextmanager
def fail_fast_on_bad_input() -> Iterator[None]:
    try:
        yield
    except BadInputError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"bad input: {exc}") from exc
