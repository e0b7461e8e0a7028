#!/usr/bin/env bash
# The main job: bootstrap the embedded default controller (local substrate, SQLite, embedded
# MQTT broker), apply the demo bundle of the example charms and wait until they are active.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
rune bootstrap
rune apply examples/bundles/demo.yaml --wait --timeout 10m
rune plan examples/bundles/demo.yaml   # exits 0: the model matches the bundle
rune status
