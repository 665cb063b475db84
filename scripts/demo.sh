#!/usr/bin/env bash
# The demo command: set everything up, start the local world (clouds + Airflow), play the demo.
# The world keeps running afterwards so you can look around; stop it with scripts/world.sh down.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/world.sh up
exec .venv/bin/python -m localworld.demo
