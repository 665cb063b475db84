"""Every DAG file imports cleanly and every DAG carries an owner, tags, retries and a doc."""

from __future__ import annotations

import pytest

from multiregion import PROJECT_ROOT

DAGS_FOLDER = PROJECT_ROOT / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER), safe_mode=False)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_dag_file_defines_a_dag(dagbag):
    files = {p.resolve() for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_")}
    with_dags = {__import__("pathlib").Path(d.fileloc).resolve() for d in dagbag.dags.values()}
    assert files, "no DAG files found"
    assert files <= with_dags, f"files without a DAG: {sorted(str(f) for f in files - with_dags)}"


# Tasks that must not be retried blindly, and why.
NO_RETRY = {
    ("region_recovery", "resync"): "re-triggers the same run id; the failed replication run says why",
    ("region_recovery", "restore"): "a rolled-back restoration waits for ops or the next failover",
    ("failover_drill", "preflight"): "a refusal is an answer, not a glitch",
    ("failover_drill", "take_out"): "never take a region out twice; hand_back undoes a half-done one",
    ("failover_drill", "observe"): "a re-run would time a drill that is already over",
}


def test_dags_have_owner_tags_retries_and_doc(dagbag):
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not (dag.doc_md or "").strip():
            problems.append(f"{dag_id}: no doc_md")
        for t in dag.tasks:
            if t.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{t.task_id}: no owner")
            if not t.retries and (dag_id, t.task_id) not in NO_RETRY:
                problems.append(f"{dag_id}.{t.task_id}: retries={t.retries}")
    assert not problems, "\n".join(problems)


def test_dag_files_do_not_import_heavy_sdks_at_top_level():
    """DAG files must parse fast: cloud SDKs, mlflow, GX, pandas only inside tasks."""
    import ast

    heavy = ("boto3", "botocore", "google", "azure", "mlflow", "great_expectations", "pandas", "pyarrow", "sklearn")
    for path in DAGS_FOLDER.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(heavy), f"{path.name} imports {name} at top level"
