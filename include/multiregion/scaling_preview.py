"""Preview what the scaling schedules will do: the next days of desired replicas per region and
deployment, as a table of changes and a PNG chart (before arming ``scaling_schedule``).

    python -m multiregion.scaling_preview [--days 7] [--out preview.png] [--replicas N] [--start ISO]

Current replicas come from the clusters (the topology's Kubernetes connections) unless
``--replicas`` is given; the fleet is taken as it is now (health, weights, request rates), or as
healthy with no traffic when ``--offline``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from multiregion.core.health import HealthState
from multiregion.core.scaling import Deployment, Fleet, preview
from multiregion.core.scaling_config import load_scaling
from multiregion.core.schedules import ScheduleError
from multiregion.core.topology import load_topology

Series = dict[tuple[str, str], list[tuple[datetime, int, str]]]


def compute(days: int, start: datetime, replicas: int | None, offline: bool) -> Series:
    topology = load_topology()
    config = load_scaling(topology)
    if offline:
        healthy = dict.fromkeys(topology.region_names, HealthState.HEALTHY)
        weights = {r.name: r.traffic.weight for r in topology.regions}
        rates = dict.fromkeys(topology.region_names, 0.0)
        fleet = Fleet(healthy, weights, frozenset(), rates, config.requests_per_replica)
    else:
        from multiregion.ops.scaling import fleet_state

        fleet = fleet_state(topology, config)
    series: Series = {}
    for (region, name), schedule in sorted(config.schedules.items()):
        if replicas is not None:
            current = replicas
        else:
            from multiregion.k8s import deployments

            found = {d.name: d for d in deployments.list_deployments(topology.region(region))}
            current = found[name].replicas if name in found else topology.region(region).kubernetes.min_replicas
        dep = Deployment(region, name, current, None, None)
        series[(region, name)] = preview(schedule, dep, fleet, start, days)
    return series


def render_png(series: Series, start: datetime, days: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = start + timedelta(days=days)
    fig, axes = plt.subplots(len(series), 1, figsize=(12, 1.9 * len(series) + 0.6), sharex=True, squeeze=False)
    for ax, ((region, name), points) in zip(axes[:, 0], series.items(), strict=True):
        xs = [t for t, _, _ in points] + [end]
        ys = [n for _, n, _ in points] + [points[-1][1]]
        ax.step(xs, ys, where="post", color="#1f6feb", linewidth=2)
        ax.fill_between(xs, ys, step="post", alpha=0.15, color="#1f6feb")
        ax.set_ylabel("replicas")
        ax.set_ylim(0, max(ys) + 1)
        ax.set_title(f"{region} / {name}", loc="left", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    import matplotlib.dates as mdates

    axes[-1, 0].set_xlim(start, end)
    axes[-1, 0].xaxis.set_major_locator(mdates.DayLocator())
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b"))
    fig.suptitle(f"Desired replicas, {start:%Y-%m-%d %H:%M} UTC + {days} days (scaling_schedule preview)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multiregion.scaling_preview", description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--start", help="ISO instant with offset (default: now)")
    parser.add_argument("--replicas", type=int, help="assume this many current replicas everywhere")
    parser.add_argument("--offline", action="store_true", help="a healthy fleet with no traffic (no Prometheus)")
    parser.add_argument("--out", type=Path, default=Path("scaling-preview.png"))
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        series = compute(args.days, start, args.replicas, args.offline)
    except ScheduleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for (region, name), points in series.items():
        print(f"{region}/{name}")
        for at, replicas, reason in points:
            print(f"  {at:%a %Y-%m-%d %H:%M} UTC  {replicas:3d}  {reason}")
    print(f"chart: {render_png(series, start, args.days, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
