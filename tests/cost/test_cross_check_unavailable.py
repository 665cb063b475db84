"""Cost Explorer unreachable: the analysis goes on and the report says the cross-check is unavailable."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from multiregion.cost import report
from multiregion.cost.cost_explorer import CostExplorerUnavailable, daily_usage_totals
from multiregion.ops import cost


@pytest.fixture
def closed_port_conn(monkeypatch):
    """An AWS connection whose Cost Explorer endpoint refuses connections (port 1), no retries."""
    extra = {
        "endpoint_url": "http://127.0.0.1:1",
        "region_name": "us-east-1",
        "config_kwargs": {"retries": {"max_attempts": 1}},
    }
    conn = {"conn_type": "aws", "login": "x", "password": "y", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CE_REFUSED", json.dumps(conn))
    return "ce_refused"


def test_unreachable_cost_explorer_is_a_named_error(closed_port_conn):
    with pytest.raises(CostExplorerUnavailable, match="ce_refused"):
        daily_usage_totals(closed_port_conn, date(2026, 11, 1), date(2026, 11, 2))


def test_cross_check_reports_unavailable_instead_of_failing(closed_port_conn):
    config = cost._world()[1]
    config = config.model_copy(
        update={"cross_check": {"aws": config.cross_check["aws"].model_copy(update={"conn_id": closed_port_conn})}}
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE costs (x_ChargeDate DATE, BilledCost DECIMAL(38, 10), x_Cloud TEXT, "
                "ChargeCategory TEXT, ChargeFrequency TEXT)")  # fmt: skip
    con.execute("INSERT INTO costs VALUES ('2026-11-01', 12.5, 'aws', 'Usage', NULL)")
    out = cost._cross_check(con, config, ["2026-11-01"], date(2026, 11, 20))
    assert out["cross_check"] == []
    assert [u["cloud"] for u in out["cross_check_unavailable"]] == ["aws"]
    result = {"cross_check": [], **out}
    section = report._cross_check_section(result)
    assert "cross-check unavailable for aws" in section and "agrees" not in section
