"""Benchmark: parse time of each DAG file after ``import airflow`` (goal ≤ 0.2 s per file).

Each measurement runs in a fresh interpreter (module caches would hide the cost): import
airflow and airflow.sdk first, then time executing the DAG file the way the dag-processor
does (DagBag on that one file). A minimal reference DAG is measured side by side in the same
run, so the ratio is meaningful on a noisy machine. Results: bench/results/parse_times.{json,md}.

    .venv/bin/python bench/parse_times.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
REFERENCE_DAG = """
import pendulum
from airflow.sdk import dag, task

@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), tags=["ref"])
def reference():
    @task
    def hello():
        return 1
    hello()

reference()
"""

PROBE = r"""
import sys, time, warnings
warnings.simplefilter("ignore")
import airflow, airflow.sdk  # noqa: F401  (outside the measurement, as in the dag-processor)
from airflow.dag_processing.dagbag import DagBag
t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False, load_op_links=False)
elapsed = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
print(elapsed)
"""


def measure(path: Path, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / "reference_dag.py"
        ref.write_text(REFERENCE_DAG)
        ref_median = statistics.median(measure(ref, args.repeat))
        rows.append({"file": "(reference: one-task DAG)", "median_s": ref_median, "ratio_to_reference": 1.0})
        for path in sorted((ROOT / "dags").glob("*.py")):
            med = statistics.median(measure(path, args.repeat))
            rows.append({"file": f"dags/{path.name}", "median_s": med, "ratio_to_reference": med / ref_median})
    result = {
        "benchmark": "dag_parse_time",
        "goal_s": 0.2,
        "repeat": args.repeat,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
        "all_within_goal": all(r["median_s"] <= 0.2 for r in rows),
    }
    (RESULTS / "parse_times.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| DAG file | median parse (s) | x reference |", "|---|---|---|"]
    lines += [f"| {r['file']} | {r['median_s']:.4f} | {r['ratio_to_reference']:.2f} |" for r in rows]
    (RESULTS / "parse_times.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0 if result["all_within_goal"] else 1)


if __name__ == "__main__":
    main()
