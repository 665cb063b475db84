"""MLflow model-registry webhooks: verify a delivery, turn it into a replication request (pure).

MLflow (OSS >= 3.3, SQL store) signs each delivery with HMAC-SHA256 over
``"<delivery id>.<timestamp>.<raw body>"``, base64-encoded, sent as ``X-MLflow-Signature: v1,<sig>``
beside ``X-MLflow-Delivery-Id`` and ``X-MLflow-Timestamp`` (mlflow/webhooks/delivery.py).

The primary registry is the source of truth for what serves:
- ``model_version.created``: the version is copied and registered in every region, no alias moves
  (staged, ready);
- ``model_version_alias.created``: that alias moves to that version in every region (two-phase).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from multiregion.core.errors import BadInputError
from multiregion.core.model_lineage import ALIAS_PATTERN, MODEL_NAME_PATTERN, VERSION_PATTERN
from multiregion.core.naming import safe_name

SIGNATURE_HEADER = "X-MLflow-Signature"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
MAX_SKEW_S = 300  # a delivery older (or newer) than this is refused: no replay of an old capture
VERSION_CREATED = "model_version.created"
ALIAS_CREATED = "model_version_alias.created"
EVENTS = (VERSION_CREATED, ALIAS_CREATED)
# A registered-model tag: "false" opts the model out (its pipeline replicates over REST instead).
OPT_OUT_TAG = "mr.replicate_on_registration"
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class SignatureError(ValueError):
    """The delivery is not provably from our registry (missing, malformed, stale or wrong signature)."""


@dataclass(frozen=True)
class RegistryEvent:
    event: str
    model: str
    version: str
    alias: str | None
    delivery_id: str

    def replication_conf(self) -> dict[str, object]:
        """The ``replicate_model`` params this event asks for."""
        if self.event == ALIAS_CREATED:
            return {"model": self.model, "version": self.version, "promote_alias": self.alias, "promote": True}
        return {"model": self.model, "version": self.version, "promote": False}

    def run_id(self) -> str:
        """One replication per delivery: a redelivery names the same run."""
        return run_id_prefix(self.model, self.version, self.alias) + safe_name(self.delivery_id)


def run_id_prefix(model: str, version: str, alias: str | None = None) -> str:
    """What every replicate_model run started by such an event is named from (then the delivery id)."""
    what = f"{alias}-v{version}" if alias else f"v{version}"
    return safe_name(f"registry__{model}__{what}__")


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The signature MLflow sends for this delivery (``v1,<base64 HMAC-SHA256>``)."""
    mac = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, now: float, max_skew_s: float = MAX_SKEW_S) -> str:
    """The delivery id of a correctly signed, fresh delivery; ``SignatureError`` naming the problem otherwise."""
    if not secret:
        raise SignatureError("no webhook secret is configured: every delivery is refused")
    lowered = {k.lower(): v for k, v in headers.items()}
    delivery_id = lowered.get(DELIVERY_HEADER.lower(), "")
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not signature:
        raise SignatureError(f"unsigned delivery: no {SIGNATURE_HEADER} header")
    if not _DELIVERY_ID.match(delivery_id):
        raise SignatureError(f"missing or malformed {DELIVERY_HEADER} header")
    if not timestamp.isdigit():
        raise SignatureError(f"missing or malformed {TIMESTAMP_HEADER} header")
    if abs(now - int(timestamp)) > max_skew_s:
        raise SignatureError(f"stale delivery: {TIMESTAMP_HEADER} is {now - int(timestamp):.0f}s off")
    if not hmac.compare_digest(signature, sign(secret, delivery_id, timestamp, body)):
        raise SignatureError("bad signature")
    return delivery_id


def parse_event(body: bytes, delivery_id: str) -> RegistryEvent | None:
    """The event in a verified delivery; None for an event we don't act on; ``BadInputError``
    naming the field for a malformed one."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise BadInputError("body must be an object with a 'data' object")
    event = f"{doc.get('entity')}.{doc.get('action')}"
    if event not in EVENTS:
        return None
    data = doc["data"]
    fields = {"name": MODEL_NAME_PATTERN, "version": VERSION_PATTERN}
    if event == ALIAS_CREATED:
        fields["alias"] = ALIAS_PATTERN
    for field, pattern in fields.items():
        value = data.get(field)
        if not isinstance(value, str) or not re.match(pattern, value):
            raise BadInputError(f"data.{field}: {value!r} is not valid for {event}")
    return RegistryEvent(event, data["name"], data["version"], data.get("alias"), delivery_id)
