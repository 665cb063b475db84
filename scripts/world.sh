#!/usr/bin/env bash
# The local multi-cloud world: scripts/world.sh up|down|status|env|start|stop|restart [SERVICE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$ROOT/.venv/bin/python" ] || { echo "run scripts/setup.sh first" >&2; exit 1; }
exec "$ROOT/.venv/bin/python" -m localworld "$@"
