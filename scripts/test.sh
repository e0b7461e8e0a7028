#!/usr/bin/env bash
# The whole test suite: setup, then types, lint, layering contracts and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== mypy --strict"
mypy
echo "== ruff"
ruff check runecraft tests benchmarks
ruff format --check runecraft tests benchmarks
echo "== import-linter"
lint-imports
echo "== pytest"
pytest -n 2 "$@"
