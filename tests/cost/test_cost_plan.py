"""Which charge days a cost_analysis run (re-)ingests, and as of when anomalies are judged."""

from __future__ import annotations

import pytest

from multiregion.core.errors import BadInputError
from multiregion.ops.cost import plan


def test_the_nightly_run_takes_the_trailing_window_and_the_open_billing_period():
    early = plan("2026-12-02")  # window 14 days > the open period (Dec 1)
    assert (early["days"][0], early["days"][-1], len(early["days"])) == ("2026-11-18", "2026-12-01", 14)
    assert early["periods"] == ["2026-11", "2026-12"] and early["as_of"] == "2026-12-02"
    late = plan("2026-12-28")  # the open period is longer than the window
    assert (late["days"][0], late["days"][-1]) == ("2026-12-01", "2026-12-27") and late["periods"] == ["2026-12"]
    assert early["clouds"] == ["aws", "azure", "gcp"]


def test_a_backfill_by_params_or_by_airflow_and_its_judging_day():
    past = plan("2026-12-02", "2026-10-01", "2026-10-07", ["gcp"])
    assert past["days"] == [f"2026-10-0{d}" for d in range(1, 8)] and past["as_of"] == "2026-10-08"
    assert past["clouds"] == ["gcp"]
    assert plan("2026-12-02", "2026-11-20", "2026-12-05")["as_of"] == "2026-12-02"  # today is never complete
    assert plan("2026-12-02", backfill_of="2026-11-05")["days"] == ["2026-11-04"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2026-12-02", "2026-11-10", "2026-11-01"), "end 2026-11-01 is before start 2026-11-10"),
        (("2026-12-02", "11/01/2026"), "start: '11/01/2026' is not a date"),
        (("2026-12-02", "", "", ["oracle"]), "clouds: unknown ['oracle']"),
    ],
)
def test_bad_params_are_named(args, message):
    with pytest.raises(BadInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan(*args)
