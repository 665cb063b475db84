"""The house rules, enforced: the product never imports the local world; the core imports
neither Airflow, nor a cloud SDK, nor any adapter of the product."""

from __future__ import annotations

import ast
from pathlib import Path

from multiregion import PROJECT_ROOT

PRODUCT = PROJECT_ROOT / "include" / "multiregion"
CORE = PRODUCT / "core"
PRODUCT_DIRS = [PRODUCT, PROJECT_ROOT / "dags", PROJECT_ROOT / "plugins"]
CORE_MAY_IMPORT = ("multiregion.core",)  # and the standard library, pydantic, yaml
SDKS = ("airflow", "boto3", "botocore", "google", "azure", "mlflow", "kubernetes", "cloudflare", "httpx", "dns")


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py"))


def test_no_module_of_the_product_imports_the_local_world():
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}: {name}"
        for path in _files(*PRODUCT_DIRS)
        for line, name in imports(path)
        if name == "localworld" or name.startswith("localworld.")
    ]
    assert offenders == []


def test_core_imports_no_airflow_no_sdk_and_no_adapter():
    offenders = []
    for path in _files(CORE):
        for line, name in imports(path):
            top = name.split(".")[0]
            if top in SDKS or (top == "multiregion" and not name.startswith(CORE_MAY_IMPORT) and name != "multiregion"):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {name}")
    assert offenders == []


def test_the_rules_see_real_imports(tmp_path):
    """The checks above would catch a violation: they parse every import form they must."""
    source = tmp_path / "probe.py"
    source.write_text("import os\n" * 9 + "from localworld.drills import arm\nimport airflow.sdk\n")
    assert (10, "localworld.drills") in imports(source)
    assert (11, "airflow.sdk") in imports(source)
