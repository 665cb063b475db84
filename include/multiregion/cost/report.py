"""The daily cost report: one HTML page with PNG charts, in the central store beside the table.

<reports_prefix>/<last day>/index.html    cost per region per day, top services, egress by route
<reports_prefix>/<last day>/*.png          with replication's share, anomalies marked, spot and
<reports_prefix>/latest.json               scale-down opportunities; latest.json names the newest
"""

from __future__ import annotations

import html
import io
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from multiregion.core.cost_config import CostConfig
from multiregion.stores.base import ObjectStore

STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    "td{text-align:right}img{max-width:100%;display:block;margin:1em 0}"
)


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def charts(result: dict[str, Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    from datetime import date

    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter

    out = {}
    per_region: dict[str, dict[date, float]] = defaultdict(dict)
    for row in result["by_region"]:
        per_region[f"{row['x_Region'] or 'global'} ({row['x_Cloud']})"][date.fromisoformat(row["day"])] = float(
            row["effective"]
        )
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for name, series in sorted(per_region.items()):
        days = sorted(series)
        ax.plot(days, [series[d] for d in days], marker="o", markersize=3, label=name)
    for a in result["anomalies"]:
        ax.axvline(date.fromisoformat(a["day"]), color="red", alpha=0.35, linestyle="--")
        ax.annotate(
            f"{a['service']} +{a['impact']:,.0f}",
            (date.fromisoformat(a["day"]), ax.get_ylim()[1]),
            color="red",
            fontsize=8,
            ha="center",
            va="top",
        )
    ax.set_title("Effective cost per region per day (anomalies dashed)")
    ax.set_ylabel(result.get("currency", "USD"))
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    ax.legend(fontsize=8)
    out["cost_per_region.png"] = _png(fig)
    plt.close(fig)

    services: dict[str, float] = defaultdict(float)
    for row in result["by_service"]:
        services[f"{row['ServiceName']} ({row['x_Cloud']})"] += float(row["effective"])
    top = sorted(services.items(), key=lambda kv: kv[1])[-10:]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.barh([k for k, _ in top], [v for _, v in top], color="#4c72b0")
    ax.set_title("Top services over the window")
    out["top_services.png"] = _png(fig)
    plt.close(fig)

    egress: dict[str, float] = defaultdict(float)
    for row in result["egress"]:
        egress[row["region"] or row["cloud"]] += float(row["cost"])
    replication: dict[str, float] = defaultdict(float)
    for row in result["replication_egress"]:
        if row["cost"]:
            replication[row["source_region"]] += float(row["cost"])
    fig, ax = plt.subplots(figsize=(9, 3.0))
    names = sorted(egress)
    ax.barh(names, [egress[n] - replication.get(n, 0.0) for n in names], label="other egress", color="#999999")
    ax.barh(
        names,
        [replication.get(n, 0.0) for n in names],
        left=[egress[n] - replication.get(n, 0.0) for n in names],
        label="our replication",
        color="#dd8452",
    )
    ax.set_title("Egress cost by source region, replication's share")
    ax.legend(fontsize=8)
    out["egress.png"] = _png(fig)
    plt.close(fig)
    return out


MONEY = {"effective", "billed", "cost", "saved", "expected", "actual", "impact", "potential_saving", "focus",
         "cost_explorer", "difference", "monthly_saving"}  # fmt: skip


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    return _money(value) if key in MONEY else html.escape(str(value))


def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str]], empty: str = "none") -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(k, r.get(k))}</td>" for k, _ in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>" if rows else f"<p>{html.escape(empty)}</p>"


def page(result: dict[str, Any], images: list[str], run_id: str) -> str:
    last = result["days"][-1]
    yesterday = [r for r in result["by_region"] if r["day"] == last]
    sections = [
        f"<h1>Cost report {html.escape(result['days'][0])} .. {html.escape(last)}</h1>",
        f"<p>run {html.escape(run_id)}; partial clouds: {html.escape(', '.join(result['partial']) or 'none')}</p>",
        f"<h2>{html.escape(last)} per region</h2>",
        _table(
            yesterday, [("x_Cloud", "cloud"), ("x_Region", "region"), ("effective", "effective"), ("billed", "billed")]
        ),
        *(f'<img src="{name}" alt="{name}">' for name in images),
        "<h2>Anomalies</h2>",
        _table(
            result["anomalies"],
            [
                ("day", "day"),
                ("cloud", "cloud"),
                ("region", "region"),
                ("service", "service"),
                ("expected", "expected"),
                ("actual", "actual"),
                ("impact", "impact"),
                ("score", "score"),
            ],
        ),
        "<h2>Replication egress (route ledger x measured $/GB)</h2>",
        _table(
            result["replication_egress"],
            [
                ("day", "day"),
                ("kind", "kind"),
                ("name", "name"),
                ("source_region", "from"),
                ("dest_region", "to"),
                ("bytes", "bytes"),
                ("cost", "cost"),
            ],
        ),
        "<h2>Spot</h2>",
        _table(result["spot"]["realized"], [("cloud", "cloud"), ("region", "region"), ("saved", "saved vs list")]),
        _table(
            result["spot"]["opportunities"],
            [
                ("cloud", "cloud"),
                ("service", "service"),
                ("effective", "on-demand"),
                ("potential_saving", "at spot"),
                ("interruption", "interruption"),
            ],
        ),
        "<h2>Scale-down windows (paste into config/scaling.yaml as downtime)</h2>",
        _table(
            result["scale_down"],
            [
                ("region", "region"),
                ("deployment", "deployment"),
                ("downtime", "downtime"),
                ("monthly_saving", "saving / month / replica"),
            ],
            "none: no hour of the week was under the low-traffic share of the busiest in the request rates",
        ),
        "<h2>Cost Explorer cross-check</h2>",
        _cross_check_section(result),
    ]
    head = f"<meta charset='utf-8'><title>Cost report {last}</title><style>{STYLE}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(sections)}</body></html>"


def _cross_check_section(result: dict[str, Any]) -> str:
    unavailable = "".join(
        f"<p>cross-check unavailable for {html.escape(u['cloud'])}: {html.escape(u['error'])}</p>"
        for u in result.get("cross_check_unavailable", [])
    )
    if result["cross_check"]:
        cols = [("day", "day"), ("focus", "FOCUS"), ("cost_explorer", "Cost Explorer"), ("difference", "difference")]
        return _table(result["cross_check"], cols, "") + unavailable
    return unavailable or "<p>agrees</p>"


def write(store: ObjectStore, config: CostConfig, result: dict[str, Any], run_id: str) -> str:
    """Charts first, the page, then ``latest.json``; the page's URL."""
    base = f"{config.reports_prefix.strip('/')}/{result['days'][-1]}"
    images = charts({**result, "currency": config.currency})
    for name, data in images.items():
        store.write(f"{base}/{name}", data, content_type="image/png")
    store.write(f"{base}/index.html", page(result, sorted(images), run_id).encode(), content_type="text/html")
    store.write(f"{base}/result.json", json.dumps(result, indent=1).encode(), content_type="application/json")
    latest = {"day": result["days"][-1], "report": f"{base}/index.html", "run_id": run_id}
    store.write(
        f"{config.reports_prefix.strip('/')}/latest.json", json.dumps(latest).encode(), content_type="application/json"
    )
    return store.url_for(f"{base}/index.html")


def summary(result: dict[str, Any]) -> str:
    last = result["days"][-1]
    lines = [f"cost on {last}:"]
    for r in result["by_region"]:
        if r["day"] == last:
            lines.append(f"  {r['x_Cloud']:6} {r['x_Region'] or 'global':11} effective {_money(r['effective'])}")
    for a in result["anomalies"]:
        lines.append(f"  anomaly: {a['summary']}")
    repl = sum(Decimal(r["cost"]) for r in result["replication_egress"] if r["cost"])
    lines.append(f"  replication egress over the window: {_money(repl)}")
    for u in result.get("cross_check_unavailable", []):
        lines.append(f"  cross-check unavailable for {u['cloud']}: {u['error']}")
    if result["partial"]:
        lines.append(f"  PARTIAL: no usable export from {', '.join(result['partial'])}")
    return "\n".join(lines)
