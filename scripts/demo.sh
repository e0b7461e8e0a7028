#!/usr/bin/env bash
# The main job: bootstrap the embedded default controller (local substrate, SQLite, embedded
# MQTT broker), deploy the example charms and wait until they are active.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
rune bootstrap
rune deploy ./examples/charms/hello hello -n 2 --config greeting=hi
rune deploy ./examples/charms/hello-bash
rune wait --timeout 10m
rune status
