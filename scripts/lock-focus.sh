#!/usr/bin/env bash
# Regenerates requirements-focus.lock (the FOCUS validator's virtualenv, .venv-focus) from
# requirements-focus.txt, then cross-checks it against what pip resolves on Python 3.11.
#
# focus-validator 2.0.2 declares Requires-Python >=3.12 but runs on 3.11; uv has no
# --ignore-requires-python, so the set is resolved for 3.12 (no dependency has a python_version
# marker, so the set is the one 3.11 gets) and checked against a scratch 3.11 venv installed with
# `pip install --ignore-requires-python` + `pip freeze`. Setup installs the lock with
# `pip install --no-deps --ignore-requires-python`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV="${UV:-.venv/bin/uv}"
PYTHON="${PYTHON:-python3.11}"
lock=requirements-focus.lock

body=$(mktemp); scratch=$(mktemp -d)
trap 'rm -rf "$body" "$scratch"' EXIT
"$UV" pip compile -q --python-version 3.12 --no-header requirements-focus.txt -o "$body"
{
  echo "# Pinned dependencies of the FOCUS validator virtualenv (.venv-focus), installed by scripts/setup.sh"
  echo "# with: pip install --no-deps --ignore-requires-python -r requirements-focus.lock (Python 3.11)."
  echo "# Produced by scripts/lock-focus.sh (run it to regenerate): uv pip compile --python-version 3.12"
  echo "# requirements-focus.txt (focus-validator 2.0.2 declares Requires-Python >=3.12, so uv cannot"
  echo "# resolve it for 3.11), cross-checked equal to 'pip freeze' of a scratch Python 3.11 venv"
  echo "# installed with pip install --ignore-requires-python -r requirements-focus.txt."
  cat "$body"
} > "$lock"

"$PYTHON" -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --ignore-requires-python -r requirements-focus.txt
norm() { grep -E '^[A-Za-z0-9]' | tr 'A-Z_' 'a-z-' | sort; }
if ! diff <(norm < "$lock") <("$scratch/venv/bin/pip" freeze | norm); then
  echo "lock-focus: the 3.12 resolution differs from pip's on $PYTHON (diff above); fix before committing" >&2
  exit 1
fi
echo "lock-focus: $lock written ($(norm < "$lock" | wc -l) packages), equal to pip's resolution on $PYTHON"
