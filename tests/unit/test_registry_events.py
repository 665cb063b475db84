"""MLflow webhook deliveries: signature checks and what each event asks of replicate_model."""

from __future__ import annotations

import json

import pytest

from multiregion.core.errors import BadInputError
from multiregion.core.registry_events import (
    ALIAS_CREATED,
    VERSION_CREATED,
    SignatureError,
    parse_event,
    sign,
    verify,
)
from multiregion.core.traffic_policy import ChangeKind, TrafficChange

SECRET, DELIVERY, NOW = "s3cret", "0b7e1c2a-9f1e-4c55-8d0e-3b1f2a4c5d6e", 1_800_000_000
BODY = json.dumps(
    {"entity": "model_version", "action": "created", "timestamp": "t", "data": {"name": "churn", "version": "7"}}
).encode()


def headers(body=BODY, secret=SECRET, ts=NOW, delivery=DELIVERY, **override):
    h = {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": str(ts),
        "X-MLflow-Signature": sign(secret, delivery, str(ts), body),
    }
    return {**h, **override}


def test_a_correctly_signed_fresh_delivery_is_accepted_case_insensitively():
    lowered = {k.lower(): v for k, v in headers().items()}
    assert verify(SECRET, lowered, BODY, NOW + 10) == DELIVERY


@pytest.mark.parametrize(
    ("hdrs", "body", "secret", "message"),
    [
        (headers(secret="other"), BODY, SECRET, "bad signature"),
        (headers(), BODY + b" ", SECRET, "bad signature"),  # the body was changed on the way
        ({k: v for k, v in headers().items() if k != "X-MLflow-Signature"}, BODY, SECRET, "unsigned"),
        (headers(ts=NOW - 3600), BODY, SECRET, "stale"),
        (headers(**{"X-MLflow-Timestamp": "soon"}), BODY, SECRET, "Timestamp"),
        (headers(delivery="x"), BODY, SECRET, "Delivery-Id"),
        (headers(), BODY, "", "no webhook secret"),
    ],
)
def test_forged_stale_or_unsigned_deliveries_are_refused(hdrs, body, secret, message):
    with pytest.raises(SignatureError, match=message):
        verify(secret, hdrs, body, NOW)


def test_events_become_staged_or_promoting_replications_with_one_run_per_delivery():
    created = parse_event(BODY, DELIVERY)
    assert created.event == VERSION_CREATED
    assert created.replication_conf() == {"model": "churn", "version": "7", "promote": False}
    alias_body = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": "churn", "alias": "champion", "version": "7"},
        }
    ).encode()
    alias = parse_event(alias_body, DELIVERY)
    assert alias.event == ALIAS_CREATED
    assert alias.replication_conf() == {"model": "churn", "version": "7", "promote_alias": "champion", "promote": True}
    assert alias.run_id() == f"registry__churn__champion-v7__{DELIVERY}" != created.run_id()
    ignored = json.dumps({"entity": "registered_model", "action": "created", "data": {"name": "churn"}}).encode()
    assert parse_event(ignored, DELIVERY) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "'data' object"),
        (json.dumps({"entity": "model_version", "action": "created", "data": {"name": "churn"}}).encode(), "version"),
        (
            json.dumps({"entity": "model_version", "action": "created", "data": {"name": "a b", "version": "1"}}),
            "data.name",
        ),
        (
            json.dumps(
                {"entity": "model_version_alias", "action": "created", "data": {"name": "m", "version": "1"}}
            ).encode(),
            "data.alias",
        ),
    ],
)
def test_malformed_events_name_the_field(body, message):
    with pytest.raises(BadInputError, match=message):
        parse_event(body if isinstance(body, bytes) else body.encode(), DELIVERY)


@pytest.mark.parametrize(
    ("kind", "old", "new", "records"),
    [
        (ChangeKind.DRAIN, 50, 0, True),
        (ChangeKind.SET, 20, 0, True),  # a maintenance drain by hand
        (ChangeKind.ROLLBACK, 5, 0, False),  # the first drain's record stands
        (ChangeKind.RESTORE_STEP, 0, 5, False),
        (ChangeKind.SET, 20, 10, False),
        (ChangeKind.DRAIN, 0, 0, False),
    ],
)
def test_which_changes_record_the_weight_to_restore(kind, old, new, records):
    change = TrafficChange(kind, "r", {"r": old, "s": 10}, {"r": new, "s": 10}, "why")
    assert change.records_original is records
