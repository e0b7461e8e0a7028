#!/usr/bin/env bash
# Refresh requirements/lock.txt, the exact versions that setup.sh (and so CI) installs.
# Run it on purpose — after adding a dependency to pyproject.toml, or to take upgrades — and
# then run the whole suite before committing the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "pip-tools==7.6.2"
# The build backend (hatchling, for the editable install) and pip itself are pinned too
# (requirements/pins.in), so nothing a fresh machine installs floats.
"$tmp/venv/bin/pip-compile" -q --upgrade --extra dev --allow-unsafe \
  --strip-extras --no-emit-index-url --no-emit-find-links --annotation-style line \
  -o requirements/lock.txt pyproject.toml requirements/pins.in
echo "requirements/lock.txt refreshed"
