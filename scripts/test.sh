#!/usr/bin/env bash
# The test command: set everything up, start the local world, run the whole suite, stop the world.
# Extra arguments go to pytest (e.g. scripts/test.sh -k topology).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)
bash scripts/setup.sh
trap 'bash scripts/world.sh down || true' EXIT
bash scripts/world.sh up
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when no test ran: that is a failure here, never a silent pass.
if [ "$rc" -eq 5 ]; then echo "[test] no tests ran: failing" >&2; rc=1; fi
if ! { .venv/bin/ruff check . && .venv/bin/ruff format --check .; }; then
  echo "[test] ruff found problems" >&2; [ "$rc" -ne 0 ] || rc=1
fi
echo "[test] finished in $(( $(date +%s) - started ))s with exit code $rc"
exit "$rc"
