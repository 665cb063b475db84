"""Errors raised by object stores. Every message names the store (kind, bucket, connection) and the key.

Backends translate their SDK's exceptions into these (the SDK exception stays as ``__cause__``),
so callers handle one hierarchy whichever cloud is behind the store.
"""

from __future__ import annotations

from typing import Protocol


class _Describable(Protocol):
    def describe(self) -> str: ...

    def url_for(self, key: str) -> str: ...


class ObjectStoreError(Exception):
    """Base class. ``store`` is the store's description, ``key`` the object key (or prefix)."""

    default_message = "object store operation failed"

    def __init__(
        self, store: _Describable | str, key: str | None, message: str | None = None, cause: str | None = None
    ):
        self.store = store if isinstance(store, str) else store.describe()
        self.url = None if isinstance(store, str) or key is None else store.url_for(key)
        self.key = key
        self.detail = message or self.default_message
        self.cause = cause
        if key is None:
            text = f"{self.detail}: {self.store}"
        else:
            text = f"{self.detail}: {self.url or key} (key {key!r} in {self.store})"
        super().__init__(text + (f"; {cause}" if cause else ""))

    def __reduce__(self):
        # Rebuilt from plain attributes (the store object itself is not kept), so errors survive
        # pickling, e.g. across executor processes.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls, args, state):
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class ObjectNotFound(ObjectStoreError):
    default_message = "object not found"


class BucketNotFound(ObjectStoreError):
    default_message = "bucket/container not found"


class AccessDenied(ObjectStoreError):
    default_message = "access denied"


class InvalidRange(ObjectStoreError):
    default_message = "requested range is not satisfiable"


class ObjectChanged(ObjectStoreError):
    """The object was replaced while it was being read (precondition on etag/generation failed)."""

    default_message = "object changed during the operation"


class IntegrityError(ObjectStoreError):
    """Size or checksum of the stored object does not match what was sent."""

    default_message = "integrity check failed"


class StoreUnavailable(ObjectStoreError):
    """The store could not be reached (connection refused, timeouts, 5xx after retries)."""

    default_message = "store unavailable"
