#!/usr/bin/env bash
# Idempotent setup: Debian packages, npm packages, the project virtualenv (from the pinned lock)
# and the FOCUS validator's virtualenv (from its own lock). Quick when everything is already in place.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
UV_VERSION=0.13.9
APT_PACKAGES=(postgresql-15 pdns-server pdns-backend-sqlite3 prometheus prometheus-pushgateway
              prometheus-alertmanager sqlite3 nodejs npm
              time chromium nftables)  # GNU time: peak RSS in bench/; chromium: the Regions page
              # browser test; nftables: breaking one health vantage point's path in tests

log() { printf '[setup] %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere (e.g. nodesource); accept any node >= 18 with npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # Don't let package scripts start system-wide daemons on our ports: the world runs its own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- npm packages (Azurite) ---------------------------------------------------
npm_stamp="node_modules/.multiregion-lock"
if [ ! -f "$npm_stamp" ] || ! cmp -s package-lock.json "$npm_stamp"; then
  log "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$npm_stamp"
fi

# --- Python virtualenv from the lock --------------------------------------------
venv_stamp=".venv/.multiregion-lock"
if [ ! -f "$venv_stamp" ] || ! cmp -s requirements.lock "$venv_stamp"; then
  [ -x .venv/bin/python ] || { log "creating .venv with $PYTHON"; "$PYTHON" -m venv .venv; }
  .venv/bin/python -m pip install -q "uv==$UV_VERSION"
  log "installing Python packages from requirements.lock (compiled bytecode)"
  # Compiled bytecode: the machine sets PYTHONDONTWRITEBYTECODE, which doubles `import airflow`.
  UV_COMPILE_BYTECODE=1 .venv/bin/uv pip sync -q --python .venv/bin/python requirements.lock
  cp requirements.lock "$venv_stamp"
fi

# --- FOCUS validator virtualenv from its lock ------------------------------------
# focus-validator 2.0.2 runs on 3.11 but declares Requires-Python >=3.12, which uv cannot ignore:
# pip installs exactly the lock (--no-deps). A changed lock rebuilds the venv (nothing stale left).
focus_stamp=".venv-focus/.multiregion-lock"
if [ ! -f "$focus_stamp" ] || ! cmp -s requirements-focus.lock "$focus_stamp"; then
  log "creating .venv-focus with $PYTHON and installing requirements-focus.lock"
  rm -rf .venv-focus
  "$PYTHON" -m venv .venv-focus
  # uv for its dependencies (seconds); pip for the tool itself, which declares Python >= 3.12 but
  # runs on 3.11 (uv cannot ignore that)
  grep -v '^focus-validator==' requirements-focus.lock > .venv-focus/deps.txt
  .venv/bin/uv pip install -q --no-deps --python .venv-focus/bin/python -r .venv-focus/deps.txt
  .venv-focus/bin/python -m pip install -q --no-deps --ignore-requires-python \
    "$(grep '^focus-validator==' requirements-focus.lock | cut -d' ' -f1)"
  .venv-focus/bin/python -c 'import focus_validator.main' # fails here, not in a test, if it cannot run
  cp requirements-focus.lock "$focus_stamp"
fi

# The project package lives in include/ (the Astro layout); make it importable from the venv.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ROOT/include" > "$site/multiregion-include.pth"
log "ready ($(.venv/bin/python --version), airflow $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("apache-airflow"))'), focus-validator $(.venv-focus/bin/python -c 'import importlib.metadata as m; print(m.version("focus-validator"))'))"
