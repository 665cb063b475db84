"""The Grafana dashboards: the committed JSON is the builder's output, it loads into
grafana-foundation-sdk's models, and every query is valid PromQL (promtool parses it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from multiregion.monitoring.dashboards import DASHBOARDS, queries

FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_committed_dashboard_is_the_builders_output(name):
    committed = json.loads((FOLDER / name).read_text())
    assert committed == DASHBOARDS[name](), f"regenerate: python -m multiregion.monitoring.dashboards {FOLDER}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_loads_into_the_sdk_models(name):
    data = json.loads((FOLDER / name).read_text())
    model = Dashboard.from_json(data)
    assert model.uid == data["uid"] and model.title == data["title"]
    panels = [p for p in data["panels"] if p["type"] != "row"]
    assert panels and all(p["datasource"]["uid"] == "prometheus" and p["targets"] for p in panels)
    assert len({p["id"] for p in data["panels"]}) == len(data["panels"]), "panel ids must be unique"


def test_no_stray_dashboard_files():
    assert sorted(p.name for p in FOLDER.glob("*.json")) == sorted(DASHBOARDS)


def test_every_query_is_valid_promql(tmp_path):
    exprs = sorted({expr for build in DASHBOARDS.values() for _, expr in queries(build())})
    recording = [{"record": f"q:{n}", "expr": e} for n, e in enumerate(exprs)]
    rules = {"groups": [{"name": "dashboards", "rules": recording}]}
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
