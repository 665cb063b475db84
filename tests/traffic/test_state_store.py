"""The traffic audit trail and recorded original weights (PostgreSQL state store)."""

from __future__ import annotations

import uuid

import pytest

from multiregion.state.postgres import StateStore

pytestmark = pytest.mark.world


def test_changes_are_audited_and_originals_recorded_once(world):
    store = StateStore()
    run = f"test-{uuid.uuid4().hex[:8]}"
    for name in world.topology.region_names:
        store.forget_original(name)
    original = {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}
    drained = {**original, "us-west-2": 0}
    result = store.change_traffic("us-west-2", "drain", "probe failures", run, lambda: (original, drained))
    assert result["changed"]
    assert store.original_weights() == {"us-west-2": 50}  # only the drained region's
    # a second drain (another region) records that one; a re-drain of the first (a regression at a
    # restoration step) must not overwrite its first record
    store.change_traffic("eu-west-1", "drain", "probe failures", run, lambda: (drained, {**drained, "eu-west-1": 0}))
    store.change_traffic("us-west-2", "drain", "regressed", run, lambda: ({**drained, "us-west-2": 5}, drained))
    assert store.original_weights() == {"us-west-2": 50, "eu-west-1": 30}
    noop = store.change_traffic("us-west-2", "drain", "again", run, lambda: (drained, drained))
    assert not noop["changed"]
    audit = [a for a in store.audit() if a["run_id"] == run]
    assert [(a["region"], a["action"]) for a in audit] == [
        ("us-west-2", "drain"),
        ("eu-west-1", "drain"),
        ("us-west-2", "drain"),
    ]
    assert audit[2]["old_weights"] == original and audit[2]["new_weights"] == drained
    for name in world.topology.region_names:
        store.forget_original(name)
    assert store.original_weights() == {}
