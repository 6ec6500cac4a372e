#!/usr/bin/env bash
# Creates .venv from requirements.lock and installs this project into it (editable).
# Prints one line per step; the full output goes to .build/install.log.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build
log=.build/install.log
: >"$log"
UV_VERSION=0.13.8

step() { printf '  %-46s' "$1"; }
ok() { printf 'done (%ss)\n' "$1"; }
fail() { echo "failed; see $log"; tail -n 20 "$log"; exit 1; }

python=${PYTHON:-}
if [[ -z "$python" ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate
      break
    fi
  done
fi
[[ -n "$python" ]] || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }

echo "Installing into .venv (log: $log)"
start=$SECONDS
step "virtual environment ($("$python" --version))"
rm -rf .venv
"$python" -m venv .venv >>"$log" 2>&1 || fail
ok $((SECONDS - start))

start=$SECONDS
step "uv $UV_VERSION"
.venv/bin/python -m pip install --disable-pip-version-check -q "uv==$UV_VERSION" >>"$log" 2>&1 || fail
ok $((SECONDS - start))

start=$SECONDS
step "locked dependencies ($(grep -c '^[a-z0-9]' requirements.lock) packages)"
VIRTUAL_ENV=$PWD/.venv .venv/bin/uv pip install --require-hashes -r requirements.lock >>"$log" 2>&1 || fail
ok $((SECONDS - start))

start=$SECONDS
step "this project (editable)"
VIRTUAL_ENV=$PWD/.venv .venv/bin/uv pip install --no-deps --no-build-isolation -e . >>"$log" 2>&1 || fail
ok $((SECONDS - start))

touch .venv/.installed
