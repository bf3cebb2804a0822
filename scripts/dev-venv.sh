#!/usr/bin/env bash
# Create (or reuse) the Python venv with the development/test tools listed in
# requirements-dev.txt, and print its absolute path on stdout.
#
#   VENV=/some/dir bash scripts/dev-venv.sh   # default: .venv in the repo root
#   PYTHON=python3.12 bash scripts/dev-venv.sh  # default: python3.11
#
# Idempotent: the install is skipped when the venv holds a stamp file whose
# content is the sha256 of requirements-dev.txt (and of the interpreter choice).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="${VENV:-.venv}"
python="${PYTHON:-python3.11}"
req="$root/requirements-dev.txt"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "dev-venv.sh: $python not found (set PYTHON=...)" >&2
    exit 1
fi

hash="$( { cat "$req"; echo "python=$python"; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.requirements-dev.sha256"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    echo "dev-venv.sh: $venv is up to date" >&2
else
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "dev-venv.sh: creating $venv with $python" >&2
        "$python" -m venv "$venv"
    fi
    rm -f "$stamp"
    # Progress on stderr so that stdout is only the venv path.
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req" >&2
    echo "$hash" > "$stamp"
fi

cd "$venv" && pwd
