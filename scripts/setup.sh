#!/usr/bin/env bash
# Set up a development environment: Debian packages the real-component tests need, and a
# virtualenv (.venv) with Runecraft and its test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  for pkg in mosquitto postgresql openssh-server openssh-client iproute2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi

  # kubectl from Debian's kubernetes-client, the real client the Kubernetes tests list
  # objects with. Where another package owns /usr/bin/kubectl (cloud SDK images ship one),
  # installing would conflict: the package is unpacked into .venv/debian instead.
  owner=$(dpkg -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1 || true)
  if ! dpkg -s kubernetes-client >/dev/null 2>&1 && [ ! -x .venv/debian/usr/bin/kubectl ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if [ -z "$owner" ] || [ "$owner" = kubernetes-client ]; then
      apt-get install -y -qq kubernetes-client >/dev/null
    else
      scratch=$(mktemp -d)
      (cd "$scratch" && apt-get download -qq kubernetes-client 2>/dev/null)
      mkdir -p .venv/debian
      dpkg-deb -x "$scratch"/kubernetes-client_*.deb .venv/debian
      rm -rf "$scratch"
    fi
  fi
fi

# LXD for the LXD substrate's tests (started by hand: CI machines have no systemd).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  scripts/lxd-setup.sh
fi

# Python packages at the versions in requirements/lock.txt (scripts/lock.sh refreshes it);
# PIP_CONSTRAINT also binds the environments pip builds packages in.
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
export PIP_CONSTRAINT="$PWD/requirements/lock.txt"
.venv/bin/pip install -q --disable-pip-version-check pip
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
