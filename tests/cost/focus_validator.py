"""Runs the FinOps FOCUS validator (PyPI ``focus-validator``) on a file and reads its report.

The validator lives in its own virtualenv, ``.venv-focus`` at the repository root, installed by
``bash scripts/setup.sh`` from ``requirements-focus.lock`` (2.0.2: the newest release that runs on
Python 3.11). It is run as its command line runs, from the directory holding its package (it opens
``focus_validator/rules/currency_codes.csv`` by a relative path), with ``--block-download`` (it asks
GitHub for rule sets otherwise) and ``--output-type unittest``: the JUnit XML it writes decides each
rule's status (passed, failure, error, skipped). The tool exits 0 whether rules fail or not, so the
report is the only verdict. One run takes about 4 s on a few rows and 5-6 s on the 1000-row public
sample (1.4 s of it is the tool's imports; up to 8 s measured on this 2-core machine under load).

Reading the report:

- **MUST or not.** A rule's requirement level is ``ValidationCriteria.Keyword`` of the rule in the
  requirements model the tool runs (bundled: ``focus_validator/rules/model-1.2.0.1.json`` for
  FOCUS 1.2): MUST, MUST NOT, SHOULD, SHOULD NOT, RECOMMENDED or MAY. MUST and MUST NOT rules are the
  MUST rules here (539 of the 621 rules of the 1.2 model). The suffix of a rule id is *not* the
  level: it says whether the requirement is unconditional (``-M``), conditional (``-C``) or about an
  optional column (``-O``); ``BilledCost-C-005-C`` is a MUST rule, ``CostAndUsage-D-033-O`` is
  RECOMMENDED. A rule the model does not know counts as MUST.
- **Violation counts and the tool's messages** are not in the XML (a failure's message there is
  "<Function> check for <Column>"). The run goes through a small bootstrap (``_BOOTSTRAP``) that
  calls the CLI's own ``main()`` and, in passing, saves the per-rule details ``Validator.validate()``
  returns (violations, message) as JSON beside the XML. That is an internal structure of 2.0.2: if
  it changes, counts become ``None``; the verdict (XML) is unaffected.
- **Errored rules** (the check could not run, e.g. its column is absent) count as failed: the tool
  reports them as not ok.
- **Composites.** A Composite rule is the AND/OR of other rules (``CostAndUsage-D-000-M`` is the AND
  of everything), so one failed leaf also fails its parents; each is listed.

Counted: the 1.2 model holds 621 rules; the report lists 578 (43 attribute rules such as
DateTimeFormat-A-000-M are never run), and ``rules_checked`` counts those not skipped: 137 with no
applicability criterion declared, 368 with all 18 ("ALL"). The tool skips rules whose applicability
criteria were not declared (``applicability_criteria``), Dynamic rules (it cannot generate them),
MAY/OPTIONAL rules, and rules whose upstream rules were skipped.

Two adjustments, both reported, neither hiding a real violation:

- **Errata** (``errata=True``, the default): the bundled model 1.2.0.1 has four defective rules that
  no dataset can pass, corrected upstream in later 1.2 model releases (``ERRATA``). The tool is run
  on a copy of its model with exactly those rules corrected (``--rule-set-path``); a correction is
  applied only where the bundled rule still has the defective form. ``report.errata`` names them.
- **Alternatives not taken**: a failed rule that is an alternative of an OR composite that passed,
  and has no condition of its own, is no violation (``_alternatives_not_taken``; in 1.2 that is
  InvoiceId-C-004-C/-C-005-C: "all null" or "none null", one of which fails on any dataset that
  has the column). They are listed in ``report.alternatives_not_taken``, not in ``failed_must``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-focus"
SETUP_COMMAND = "bash scripts/setup.sh"
MUST_KEYWORDS = frozenset({"MUST", "MUST NOT"})
DEFAULT_TIMEOUT = 300.0

# Runs inside .venv-focus: the CLI's main() with sys.argv[1:], plus a copy of the per-rule details.
_BOOTSTRAP = r"""
import json, os, sys
from focus_validator import main as cli

_validate = cli.Validator.validate

def validate(self, *args, **kwargs):
    results = _validate(self, *args, **kwargs)
    try:
        rules = {}
        for rule_id, entry in results.by_rule_id.items():
            details = entry.get("details") or {}
            violations, message = details.get("violations"), details.get("message")
            rules[rule_id] = {
                "violations": violations if isinstance(violations, int) else None,
                "message": message if isinstance(message, str) else None,
            }
        side = {"model_version": getattr(results, "model_version", None),
                "rows": getattr(results, "data_row_count", None), "rules": rules}
        with open(os.environ["FOCUS_VALIDATOR_DETAILS"], "w", encoding="utf-8") as f:
            json.dump(side, f)
    except Exception as exc:  # details are a bonus: the XML stays the verdict
        print(f"focus_validator bootstrap: no rule details ({exc!r})", file=sys.stderr)
    return results

cli.Validator.validate = validate
sys.argv[0] = "focus-validator"
cli.main()
"""

# The package's logging config writes a DEBUG log file into the working directory (site-packages);
# this one sends warnings (e.g. a column dropped because its timestamps did not parse) to stderr.
_LOGGING_YAML = """\
version: 1
disable_existing_loggers: false
formatters:
  plain: {format: "%(levelname)s %(name)s: %(message)s"}
handlers:
  stderr: {class: logging.StreamHandler, stream: ext://sys.stderr, formatter: plain, level: WARNING}
root: {level: WARNING, handlers: [stderr]}
"""


def _check(function: str, column: str, value: Any) -> dict[str, Any]:
    return {"CheckFunction": function, "ColumnName": column, "Value": value}


@dataclass(frozen=True)
class Erratum:
    """A correction of one field of a rule's ValidationCriteria, applied only if the field still holds
    exactly the defective value."""

    rule_id: str
    field: str
    defective: Any
    corrected: Any
    why: str


_USAGE = _check("CheckValue", "ChargeCategory", "Usage")
# Defects of the requirements model 1.2.0.1 (bundled with focus-validator 2.0.2), each one making a
# MUST rule fail on every dataset that declares the criterion; corrected upstream in the FOCUS_Spec
# repository (requirements model 1.2.0.2/1.2.0.3).
ERRATA: dict[str, tuple[Erratum, ...]] = {
    "1.2.0.1": (
        Erratum(
            "CapacityReservationStatus-C-003-C",
            "Condition",
            {"AND": _check("CheckValue", "CapacityReservationId", None)},
            _check("CheckValue", "CapacityReservationId", None),
            "malformed condition is ignored, so 'MUST be null' applies to every row and contradicts -C-004-C "
            "(FOCUS_Spec PR #2622)",
        ),
        Erratum(
            "CapacityReservationStatus-C-004-C",
            "Condition",
            {"AND": [_check("CheckNotValue", "CapacityReservationId", None), _USAGE]},
            {"CheckFunction": "AND", "Items": [_check("CheckNotValue", "CapacityReservationId", None), _USAGE]},
            "malformed condition is ignored, so 'MUST NOT be null' applies to every row (FOCUS_Spec PR #2622)",
        ),
        Erratum(
            "CommitmentDiscountStatus-C-004-C",
            "Condition",
            _check("CheckValue", "CommitmentDiscountId", None),
            {"CheckFunction": "AND", "Items": [_check("CheckNotValue", "CommitmentDiscountId", None), _USAGE]},
            "condition inverted: 'MUST NOT be null when CommitmentDiscountId IS null' contradicts -C-003-C "
            "(FOCUS_Spec issue #2393, PR #2622)",
        ),
        Erratum(
            "CommitmentDiscountStatus-C-004-C",
            "Dependencies",
            ["CommitmentDiscountId-C-000-C"],
            ["CommitmentDiscountId-C-000-C", "ChargeCategory-C-000-M"],
            "the corrected condition reads ChargeCategory (FOCUS_Spec PR #2622)",
        ),
        Erratum(
            "CommitmentDiscountStatus-C-005-M",
            "Requirement",
            {
                "CheckFunction": "OR",
                "Items": [
                    _check("CheckValue", "CommitmentDiscountStatus", v) for v in ("Active", "Expired", "Pending")
                ],
            },
            {
                "CheckFunction": "OR",
                "Items": [_check("CheckValue", "CommitmentDiscountStatus", v) for v in ("Used", "Unused")],
            },
            "allowed values are Used/Unused in the specification, not Active/Expired/Pending "
            "(FOCUS_Spec issue #2418, PR #2422)",
        ),
    ),
}


class ValidatorError(RuntimeError):
    """The validator is not installed, or it did not produce a report."""


@dataclass(frozen=True)
class RuleFailure:
    rule_id: str
    status: str  # "failure" (the check found violations) or "error" (the check could not run)
    keyword: str  # requirement level from the model: MUST, MUST NOT, SHOULD, SHOULD NOT, RECOMMENDED, MAY
    function: str  # Presence, Type, Format, Nullability, Validation or Composite (AND/OR of other rules)
    column: str  # the model's Reference: the column (or dataset) the rule is about
    requirement: str  # the model's wording (MustSatisfy)
    message: str  # the tool's message (the XML's when no details were saved)
    violations: int | None  # rows in violation (for a Composite: failed children); None if unknown

    @property
    def is_must(self) -> bool:
        return self.keyword in MUST_KEYWORDS or self.keyword == "UNKNOWN"

    def __str__(self) -> str:
        count = "" if self.violations is None else f", {self.violations} violations"
        return f"{self.rule_id} [{self.keyword}, {self.status}{count}]: {self.message} -- {self.requirement}"


@dataclass(frozen=True)
class ValidatorReport:
    validator_version: str  # the focus-validator distribution's version, e.g. "2.0.2"
    focus_version: str  # the FOCUS version validated against, e.g. "1.2"
    model_version: str  # the requirements model, e.g. "1.2.0.1"
    errata: tuple[str, ...]  # "<rule id>.<field>" corrected before the run (see ERRATA)
    applicability_criteria: str | None  # as passed to --applicability-criteria
    rules_reported: int  # rules in the report (every rule the tool considered)
    rules_checked: int  # rules actually evaluated: passed + failed + errored (not skipped)
    passed: int
    skipped: int
    failed_must: tuple[RuleFailure, ...]  # MUST/MUST NOT rules violated (failed or errored)
    # everything else that failed: SHOULD/RECOMMENDED/MAY rules, and MUST composites that failed only
    # because non-MUST children did (see _must_violations)
    failed_other: tuple[RuleFailure, ...]
    alternatives_not_taken: tuple[RuleFailure, ...]  # failed OR alternatives whose OR passed: no violation
    rows: int | None  # data rows the tool read, if known
    seconds: float  # wall time of the validator run
    stderr: str  # the tool's warnings (e.g. a dropped column)

    @property
    def failed(self) -> tuple[RuleFailure, ...]:
        return self.failed_must + self.failed_other

    def failed_must_ids(self) -> list[str]:
        return [f.rule_id for f in self.failed_must]

    def summary(self) -> str:
        lines = [
            f"focus-validator {self.validator_version}, FOCUS {self.focus_version} (model {self.model_version}, "
            f"{len(self.errata)} errata, criteria {self.applicability_criteria or 'none'}): "
            f"{self.rules_checked} of {self.rules_reported} rules checked, {self.passed} passed, "
            f"{len(self.failed_must)} MUST and {len(self.failed_other)} other rules failed, "
            f"{self.rows} rows, {self.seconds:.1f} s"
        ]
        lines += [f"  {f}" for f in self.failed]
        lines += [f"  (alternative not taken) {f}" for f in self.alternatives_not_taken]
        if self.stderr.strip():
            lines.append("  tool stderr: " + " | ".join(self.stderr.strip().splitlines()[-10:]))
        return "\n".join(lines)


def venv_python(venv: Path = VENV) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        raise ValidatorError(
            f"the FOCUS validator's virtualenv {venv} is missing: run `{SETUP_COMMAND}` at the repository "
            f"root (it installs requirements-focus.lock into .venv-focus)"
        )
    return python


@cache
def installation(python: Path) -> tuple[Path, str]:
    """(directory of the focus_validator package, installed focus-validator version)."""
    code = (
        "import os, importlib.metadata as m, focus_validator; "
        "print(os.path.dirname(focus_validator.__file__)); print(m.version('focus-validator'))"
    )
    # -I: neither the working directory (tests/cost holds a focus_validator.py too) nor PYTHON* variables
    proc = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise ValidatorError(
            f"focus_validator does not import in {python} (re-run `{SETUP_COMMAND}`):\n{_tail(proc.stderr)}"
        )
    package_dir, version = proc.stdout.split()
    return Path(package_dir), version


def bundled_model(package_dir: Path, focus_version: str) -> tuple[str, dict[str, Any]]:
    """(model version, model) of the bundled requirements model the tool picks for focus_version: the
    highest ``model-<focus_version>[.N...].json`` in its rules directory."""
    candidates = {}
    for path in (package_dir / "rules").glob("model-*.json"):
        version = path.name[len("model-") : -len(".json")]
        if version == focus_version or version.startswith(focus_version + "."):
            try:
                candidates[tuple(int(p) for p in version.split("."))] = (version, path)
            except ValueError:
                continue
    if not candidates:
        raise ValidatorError(f"no bundled requirements model for FOCUS {focus_version} in {package_dir / 'rules'}")
    version, path = candidates[max(candidates)]
    return version, json.loads(path.read_text(encoding="utf-8"))


def apply_errata(model_version: str, model: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(corrected copy of the model, "<rule id>.<field>" of each correction applied)."""
    model = copy.deepcopy(model)
    applied = []
    for erratum in ERRATA.get(model_version, ()):
        criteria = model["ModelRules"].get(erratum.rule_id, {}).get("ValidationCriteria", {})
        if criteria.get(erratum.field) == erratum.defective:
            criteria[erratum.field] = copy.deepcopy(erratum.corrected)
            applied.append(f"{erratum.rule_id}.{erratum.field}")
    return model, tuple(applied)


def validate(
    csv_path: Path,
    version: str = "1.2",
    *,
    applicability_criteria: str | None = None,
    errata: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    venv: Path = VENV,
) -> ValidatorReport:
    """Validate a FOCUS file (``.csv``, or ``.parquet``) against FOCUS ``version``.

    ``applicability_criteria`` goes to ``--applicability-criteria`` (comma-separated ids, or "ALL");
    by default none is declared and the tool skips the rules that depend on one. ``errata=False``
    runs the bundled model as it is. See the module docstring for how the report is read.
    """
    csv_path = Path(csv_path).resolve()
    if not csv_path.is_file():
        raise FileNotFoundError(csv_path)
    python = venv_python(venv)
    package_dir, validator_version = installation(python)
    model_version, model = bundled_model(package_dir, version)
    applied: tuple[str, ...] = ()
    if errata:
        model, applied = apply_errata(model_version, model)

    with tempfile.TemporaryDirectory(prefix="focus-validator-") as tmp:
        work = Path(tmp)
        xml_path, details_path, logging_path = work / "report.xml", work / "details.json", work / "logging.yaml"
        logging_path.write_text(_LOGGING_YAML, encoding="utf-8")
        cmd = [str(python), "-I", "-c", _BOOTSTRAP, "--data-file", str(csv_path), "--validate-version", version]
        cmd += ["--block-download", "--output-type", "unittest", "--output-destination", str(xml_path)]
        if applied:
            (work / "rules").mkdir()
            (work / "rules" / f"model-{model_version}.json").write_text(json.dumps(model), encoding="utf-8")
            cmd += ["--rule-set-path", str(work / "rules")]
        if applicability_criteria:
            cmd += ["--applicability-criteria", applicability_criteria]
        env = os.environ | {"LOGGING_CONFIG": str(logging_path), "FOCUS_VALIDATOR_DETAILS": str(details_path)}
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, cwd=package_dir.parent, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
            raise ValidatorError(
                f"focus-validator timed out after {timeout:.0f} s on {csv_path}:\n{_tail(stderr)}"
            ) from exc
        seconds = time.monotonic() - start
        if proc.returncode != 0 or not xml_path.exists():
            raise ValidatorError(
                f"focus-validator crashed on {csv_path} (exit {proc.returncode}, "
                f"{'report written' if xml_path.exists() else 'no report'}):\n{_tail(proc.stderr or proc.stdout)}"
            )
        statuses = _read_junit(xml_path)
        details = json.loads(details_path.read_text(encoding="utf-8")) if details_path.exists() else {}

    rules = model["ModelRules"]
    rule_details = details.get("rules", {})
    not_taken_ids = _alternatives_not_taken(rules, statuses)
    must_ids = _must_violations(rules, statuses, not_taken_ids)
    failed_must, failed_other, not_taken = [], [], []
    for rule_id, (status, xml_message) in statuses.items():
        if status not in ("failure", "error"):
            continue
        rule = rules.get(rule_id, {})
        criteria = rule.get("ValidationCriteria", {})
        detail = rule_details.get(rule_id, {})
        failure = RuleFailure(
            rule_id=rule_id,
            status=status,
            keyword=criteria.get("Keyword", "UNKNOWN"),
            function=rule.get("Function", "UNKNOWN"),
            column=rule.get("Reference", ""),
            requirement=criteria.get("MustSatisfy", ""),
            message=detail.get("message") or xml_message,
            violations=detail.get("violations"),
        )
        if rule_id in not_taken_ids:
            not_taken.append(failure)
        else:
            (failed_must if rule_id in must_ids else failed_other).append(failure)

    skipped = sum(1 for status, _ in statuses.values() if status == "skipped")
    return ValidatorReport(
        validator_version=validator_version,
        focus_version=version,
        model_version=details.get("model_version") or model_version,
        errata=applied,
        applicability_criteria=applicability_criteria,
        rules_reported=len(statuses),
        rules_checked=len(statuses) - skipped,
        passed=sum(1 for status, _ in statuses.values() if status == "passed"),
        skipped=skipped,
        failed_must=tuple(failed_must),
        failed_other=tuple(failed_other),
        alternatives_not_taken=tuple(not_taken),
        rows=details.get("rows"),
        seconds=seconds,
        stderr=proc.stderr,
    )


def _model_rule_children(requirement: Any) -> list[str] | None:
    """The rule ids a composite's requirement combines, or None if it also holds checks of its own."""
    if not isinstance(requirement, dict):
        return None
    if requirement.get("CheckFunction") == "CheckModelRule":
        return [requirement["ModelRuleId"]]
    if requirement.get("CheckFunction") in ("AND", "OR"):
        children = []
        for item in requirement.get("Items", []):
            sub = _model_rule_children(item)
            if sub is None:
                return None
            children += sub
        return children
    return None


def _must_violations(rules: dict[str, Any], statuses: dict[str, tuple[str, str]], not_taken: set[str]) -> set[str]:
    """Failed (or errored) MUST/MUST NOT rules that are violations of a MUST requirement.

    A composite made only of other rules (CostAndUsage-D-000-M, <Column>-C-000-M, ...) fails as soon as
    any child fails, SHOULD children included: ServiceName-C-000-M (MUST) fails when only
    ServiceName-C-008-C (SHOULD: one ServiceSubcategory per ServiceName) does. Such a composite is a
    MUST violation only if one of its failed children is; otherwise it is reported with the other
    failures.
    """
    memo: dict[str, bool] = {}

    def violates(rule_id: str) -> bool:
        if rule_id in memo:
            return memo[rule_id]
        memo[rule_id] = False  # guards against a cycle
        result = False
        rule = rules.get(rule_id)
        if statuses.get(rule_id, ("",))[0] in ("failure", "error") and rule_id not in not_taken:
            criteria = (rule or {}).get("ValidationCriteria", {})
            if rule is None:
                result = True  # unknown to the model: counted as MUST
            elif criteria.get("Keyword") in MUST_KEYWORDS:
                children = _model_rule_children(criteria.get("Requirement"))
                if rule.get("Function") != "Composite" or not children or statuses[rule_id][0] == "error":
                    result = True
                else:
                    result = any(violates(child) for child in children)
        memo[rule_id] = result
        return result

    return {rule_id for rule_id in statuses if violates(rule_id)}


def _alternatives_not_taken(rules: dict[str, Any], statuses: dict[str, tuple[str, str]]) -> set[str]:
    """Failed rules that are alternatives of an OR in a composite rule that passed, with no condition
    of their own: the OR is the requirement, the alternative not taken is no violation.

    The 1.2 model writes InvoiceId nullability as two unconditional rules, InvoiceId-C-004-C (all
    null: no invoice) and -C-005-C (none null), joined by the OR of InvoiceId-C-003-C; the tool also
    reports each leaf, so one of them fails on any dataset that has the column while the OR holds.
    A leaf with a Condition (SubAccountType-C-004-C "null when SubAccountId is null", under an OR
    too) is a requirement in its own right and is never excused.
    """

    def or_alternatives(node: Any):
        if isinstance(node, dict):
            if node.get("CheckFunction") == "OR":
                yield [i["ModelRuleId"] for i in node.get("Items", []) if i.get("CheckFunction") == "CheckModelRule"]
            for value in node.values():
                yield from or_alternatives(value)
        elif isinstance(node, list):
            for value in node:
                yield from or_alternatives(value)

    excused = set()
    for parent_id, parent in rules.items():
        if statuses.get(parent_id, ("",))[0] != "passed":
            continue
        for alternatives in or_alternatives(parent.get("ValidationCriteria", {}).get("Requirement", {})):
            for rule_id in alternatives:
                condition = rules.get(rule_id, {}).get("ValidationCriteria", {}).get("Condition")
                if not condition and statuses.get(rule_id, ("",))[0] == "failure":
                    excused.add(rule_id)
    return excused


def _read_junit(path: Path) -> dict[str, tuple[str, str]]:
    """Rule id -> (status, message) from the tool's JUnit XML (test cases are named "<rule id> :: <check>")."""
    statuses = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        rule_id = case.get("name", "").split(" :: ", 1)[0].strip()
        status, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                status, message = tag, element.get("message", "")
                break
        statuses[rule_id] = (status, message)
    if not statuses:
        raise ValidatorError(f"the validator's report {path} holds no test cases")
    return statuses


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])
