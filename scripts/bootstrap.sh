#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install the pinned dependencies.
# Usage: scripts/bootstrap.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
want_dev=${1:-}

find_python() {
  local candidates=()
  [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
  candidates+=(python3.14 python3.13 python3.12 python3)
  if command -v pyenv >/dev/null 2>&1; then
    local root; root=$(pyenv root 2>/dev/null || true)
    [ -n "$root" ] && candidates+=($(ls -d "$root"/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -rV))
  fi
  candidates+=($(ls -d "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] 2>/dev/null | sort -rV))
  for c in "${candidates[@]}"; do
    local exe; exe=$(command -v "$c" 2>/dev/null) || continue
    if "$exe" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$exe"; return 0
    fi
  done
  return 1
}

stamp=$VENV/.installed
lock_sum=$(cat requirements.lock requirements-dev.lock pyproject.toml | sha256sum | cut -c1-16)
want="$lock_sum${want_dev:+-dev}"
if [ -x $VENV/bin/python ] && [ -f $stamp ] && { [ "$(cat $stamp)" = "$want" ] || { [ -z "$want_dev" ] && [ "$(cat $stamp)" = "$lock_sum-dev" ]; }; }; then
  exit 0
fi
if [ ! -x $VENV/bin/python ]; then
  py=$(find_python) || { echo "OpenNRM needs Python >= 3.12 (none found on PATH or under pyenv)." >&2; exit 1; }
  echo "Creating $VENV with $py"
  "$py" -m venv $VENV
fi
$VENV/bin/python -m pip install -q --disable-pip-version-check uv==0.13.8
locks=(requirements.lock)
[ -n "$want_dev" ] && locks+=(requirements-dev.lock)
$VENV/bin/uv pip install -q --python $VENV/bin/python --require-hashes "${locks[@]/#/-r}"
$VENV/bin/uv pip install -q --python $VENV/bin/python --no-deps -e .
echo "$want" > $stamp
