"""The `rune` CLI as the benchmarks drive it: in a private home, failing loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["REPO", "RUNE", "rune"]

REPO = Path(__file__).resolve().parents[1]
RUNE = [sys.executable, "-m", "runecraft.cli"]


def rune(home: Path, cache: Path | None, *args: str) -> str:
    """Run `rune ARGS` with RUNECRAFT_HOME `home` (and the packing cache `cache`); returns
    its stdout, or exits with its stderr when it fails."""
    env = {**os.environ, "RUNECRAFT_HOME": str(home)}
    if cache is not None:
        env["RUNECRAFT_CACHE_DIR"] = str(cache)
    result = subprocess.run([*RUNE, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"rune {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout
