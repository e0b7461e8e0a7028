"""A `rune` runner bound to a private home, and a bootstrapped controller per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[2]
EXAMPLES = REPO / "examples" / "charms"
RUNE = [sys.executable, "-m", "runecraft.cli"]


@dataclass
class Rune:
    """Runs the real CLI in a subprocess against one home."""

    home: Path
    cache: Path

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "RUNECRAFT_HOME": str(self.home),
            "RUNECRAFT_CACHE_DIR": str(self.cache),
        }
        result = subprocess.run(
            [*RUNE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"rune {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\n"
                f"controller log:\n{self.controller_log()}"
            )
        return result

    def status(self, *args: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self("status", "--format", "json", *args).stdout)
        return document

    def controller_log(self, lines: int = 40) -> str:
        path = self.home / "controller" / "controller.log"
        if not path.exists():
            return "(none)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def charm_cache() -> Path:
    """Packed-charm dependency cache shared by every home of the session (pip runs once)."""
    return Path(tempfile.mkdtemp(prefix="runecraft-cache-"))


@pytest.fixture
def rune(tmp_path: Path, charm_cache: Path) -> Iterator[Rune]:
    runner = Rune(home=tmp_path / "home", cache=charm_cache)
    yield runner
    config = runner.home / "controller" / "controller.yaml"
    if config.exists():
        name = yaml.safe_load(config.read_text())["name"]
        runner("kill-controller", name, "--no-prompt", check=False)
