"""User metadata rules shared by every backend, and the key our sha256 is stored under."""

from __future__ import annotations

import re

# Letters and digits only: Azure metadata names must be C# identifiers (no '-'), and some HTTP
# proxies drop header names containing '_' (x-amz-meta-*, x-goog-meta-*).
SHA256_METADATA_KEY = "mrsha256"
MAX_METADATA_BYTES = 2048  # S3's limit, the smallest of the three, so metadata behaves the same everywhere
_METADATA_KEY_RE = re.compile(r"[a-z][a-z0-9_]*")


def normalize_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """Validate user metadata so it round-trips identically on all three stores."""
    result: dict[str, str] = {}
    for raw_key, value in (metadata or {}).items():
        key = str(raw_key).lower()  # S3 lower-cases names; do it everywhere
        if not _METADATA_KEY_RE.fullmatch(key):
            raise ValueError(f"metadata key {raw_key!r}: use letters, digits and '_', starting with a letter")
        if key == SHA256_METADATA_KEY:
            raise ValueError(f"metadata key {SHA256_METADATA_KEY!r} is reserved for the object's sha256")
        if key in result:
            raise ValueError(f"metadata key {raw_key!r} duplicates another key when lower-cased")
        if not isinstance(value, str):
            raise TypeError(f"metadata value for {raw_key!r} must be str, got {type(value).__name__}")
        if not (value.isascii() and value.isprintable()) or value != value.strip():
            raise ValueError(f"metadata value for {raw_key!r} must be printable ASCII without surrounding spaces")
        result[key] = value
    size = sum(len(k) + len(v) for k, v in result.items()) + len(SHA256_METADATA_KEY) + 64
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size} bytes with our checksum; the limit is {MAX_METADATA_BYTES}")
    return result
