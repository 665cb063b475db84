#!/usr/bin/env bash
# The test command: set everything up, start the local world, run the whole suite, stop the world.
# Extra arguments go to pytest (e.g. scripts/test.sh -k topology).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)
bash scripts/setup.sh
echo "[test] setup done after $(( $(date +%s) - started ))s"
trap 'bash scripts/world.sh down >/dev/null 2>&1 || true' EXIT
bash scripts/world.sh up
echo "[test] world up after $(( $(date +%s) - started ))s"
set +e
.venv/bin/python -m pytest --durations=15 "$@"
rc=$?
set -e
# pytest exits 5 when no test ran: that is a failure here, never a silent pass.
if [ "$rc" -eq 5 ]; then echo "[test] no tests ran: failing" >&2; rc=1; fi
if ! { .venv/bin/ruff check . && .venv/bin/ruff format --check .; }; then
  echo "[test] ruff found problems" >&2; [ "$rc" -ne 0 ] || rc=1
fi
# The stop must leave no process of ours behind (--strict: exit 4 if any had to be killed).
if ! bash scripts/world.sh down --strict; then
  echo "[test] world stop left processes behind" >&2; [ "$rc" -ne 0 ] || rc=1
fi
trap - EXIT
echo "[test] finished in $(( $(date +%s) - started ))s with exit code $rc"
exit "$rc"
