"""The `rune` CLI as the benchmarks drive it: in a private home, failing loudly."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["REPO", "RUNE", "packed_charms", "rune"]

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


def packed_charms(names: list[str]) -> Path:
    """A packing cache holding the example charms `names`, packed once beforehand so pip is
    not part of any figure; pass it as `cache` to `rune`."""
    cache = Path(tempfile.mkdtemp(prefix="rc-bench-cache-"))
    env = {**os.environ, "RUNECRAFT_CACHE_DIR": str(cache)}
    for name in names:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from runecraft import charms; "
                "charms.pack(Path(sys.argv[1]), Path(sys.argv[2]))",
                str(REPO / "examples" / "charms" / name),
                str(cache),
            ],
            env=env,
            check=True,
        )
    return cache
