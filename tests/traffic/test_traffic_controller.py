"""The traffic controller: every change is one lock, one read of the weights, one decision, one
write, and an audit row per changed region (a counting backend on the real PostgreSQL state store)."""

from __future__ import annotations

import uuid

import pytest

from multiregion.core.health import HealthState
from multiregion.core.traffic_policy import Action, ChangeKind
from multiregion.state.postgres import StateStore
from multiregion.traffic.base import TrafficBackend
from multiregion.traffic.controller import TrafficController

pytestmark = pytest.mark.world
H, U = HealthState.HEALTHY, HealthState.UNHEALTHY
ORIGINAL = {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}


class CountingBackend(TrafficBackend):
    """Weights in memory; counts the reads and writes the controller makes."""

    def __init__(self, topology, weights, fail_writes: bool = False) -> None:
        super().__init__(topology)
        self.weights, self.reads, self.writes, self.fail_writes = dict(weights), 0, 0, fail_writes

    def get_weights(self) -> dict[str, int]:
        self.reads += 1
        return dict(self.weights)

    def _apply(self, weights: dict[str, int]) -> None:
        if self.fail_writes:
            raise RuntimeError("DNS API down")
        self.writes += 1
        self.weights = dict(weights)


@pytest.fixture
def setup(world):
    backend = CountingBackend(world.topology, ORIGINAL)
    controller = TrafficController(world.topology, backend, StateStore())
    controller.reset(ORIGINAL, "test start")
    backend.reads = backend.writes = 0
    run = f"test-{uuid.uuid4().hex[:8]}"
    yield controller, backend, run
    controller.reset(ORIGINAL, "test end")


def audit(run: str) -> list[tuple[str, str]]:
    return [(a["region"], a["action"]) for a in reversed(StateStore().audit(200)) if a["run_id"] == run]


def test_drain_restore_and_rollback_each_read_once_and_audit_once(setup):
    controller, backend, run = setup
    decisions, after = controller.drain_unhealthy({"us-west-2": U, "eu-west-1": H, "ap-south-1": H}, run)
    assert [d.action for d in decisions] == [Action.DRAIN] and after == {**ORIGINAL, "us-west-2": 0}
    assert (backend.reads, backend.writes) == (1, 1)
    assert controller.original_weights() == {"us-west-2": 50}

    step = controller.set_weight("us-west-2", 5, ChangeKind.RESTORE_STEP, "restoration step 1/4", run)
    assert step == {"old": after, "new": {**ORIGINAL, "us-west-2": 5}, "changed": True}
    assert (backend.reads, backend.writes) == (2, 2)

    controller.set_weight("us-west-2", 0, ChangeKind.ROLLBACK, "regression", run)
    assert (backend.reads, backend.writes) == (3, 3)
    assert controller.original_weights() == {"us-west-2": 50}  # the first drain's record stands
    assert audit(run) == [("us-west-2", "drain"), ("us-west-2", "restore_step"), ("us-west-2", "rollback")]

    controller.set_weight("us-west-2", 50, ChangeKind.RESTORE_STEP, "restoration step 4/4", run)
    controller.finish_restoration("us-west-2")
    assert controller.original_weights() == {}


def test_two_regions_failing_at_once_are_one_decision_on_one_read(setup):
    controller, backend, run = setup
    decisions, after = controller.drain_unhealthy({"us-west-2": U, "eu-west-1": U, "ap-south-1": H}, run)
    assert [(d.region, d.action) for d in decisions] == [("eu-west-1", Action.DRAIN), ("us-west-2", Action.DRAIN)]
    assert after == {"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 20}
    assert (backend.reads, backend.writes) == (1, 1)  # one write carries both drains
    assert audit(run) == [("eu-west-1", "drain"), ("us-west-2", "drain")]
    assert controller.original_weights() == {"us-west-2": 50, "eu-west-1": 30}


def test_refusals_and_no_ops_write_nothing_and_audit_nothing(setup):
    controller, backend, run = setup
    decisions, after = controller.drain_unhealthy({"us-west-2": U, "eu-west-1": U, "ap-south-1": U}, run)
    assert [d.action for d in decisions] == [Action.REFUSE_ALL_UNHEALTHY] * 3 and after == ORIGINAL
    controller.set_weight("eu-west-1", 30, ChangeKind.SET, "already so", run)
    assert (backend.reads, backend.writes) == (2, 0)
    assert audit(run) == [] and controller.original_weights() == {}


def test_a_maintenance_drain_by_hand_records_the_weight_to_restore(setup):
    controller, _, run = setup
    controller.set_weight("ap-south-1", 0, ChangeKind.SET, "maintenance", run)
    assert controller.original_weights() == {"ap-south-1": 20}
    with pytest.raises(ValueError, match="positive"):  # never every region at 0
        controller.reset({"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 0}, "all off")


def test_a_failed_backend_write_leaves_no_audit_row_and_no_record(setup, world):
    controller, _, run = setup
    failing = TrafficController(world.topology, CountingBackend(world.topology, ORIGINAL, fail_writes=True))
    with pytest.raises(RuntimeError, match="DNS API down"):
        failing.drain_unhealthy({"us-west-2": U, "eu-west-1": H, "ap-south-1": H}, run)
    assert audit(run) == [] and controller.original_weights() == {}
