#!/usr/bin/env python3
"""Each hook logs, and the lifecycle hooks set an active status naming `six`'s version:
`six` is importable only from the venv/ that packing filled from uv.lock."""

import os
import subprocess

import six

hook = os.environ.get("JUJU_DISPATCH_PATH", "").rpartition("/")[2]
subprocess.run(["juju-log", f"{hook}: six {six.__version__}"], check=True)
if hook in ("install", "start", "config-changed", "upgrade-charm"):
    subprocess.run(["status-set", "active", f"six {six.__version__}"], check=True)
