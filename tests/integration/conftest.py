"""A `rune` runner bound to a private home, and a bootstrapped controller per test."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from runecraft.client import Client
from runecraft.testing import ephemeral
from tests import _waiting as waiting

T = TypeVar("T")

REPO = Path(__file__).parents[2]
EXAMPLES = REPO / "examples" / "charms"
RUNE = [sys.executable, "-m", "runecraft.cli"]


@dataclass
class Rune:
    """Runs the real CLI in a subprocess against one home."""

    home: Path
    cache: Path
    timeout: float = 600.0
    """Seconds one call may take unless it says otherwise (a bounded suite gives less)."""

    def __call__(
        self,
        *args: str,
        check: bool = True,
        timeout: float | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "RUNECRAFT_HOME": str(self.home),
            "RUNECRAFT_CACHE_DIR": str(self.cache),
        }
        result = subprocess.run(
            [*RUNE, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout or self.timeout,
            check=False,
            input=stdin,
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
        return ephemeral.controller_log(self.home, lines)


def until(
    rune: Rune, model: str, what: str, probe: Callable[[], T | None], timeout: float = 300
) -> T:
    """Probe a condition each time the model changes (the controller's status long poll,
    which also answers every 10 s) until it holds."""
    config = yaml.safe_load((rune.home / "client.yaml").read_text())
    revision: int | None = None

    async def next_revision() -> None:
        nonlocal revision
        async with Client(
            config["endpoint"], config["token"], ca_cert=config.get("ca_cert")
        ) as client:
            status = await client.status(model, after=revision, timeout=10.0)
        revision = int(status["model"]["revision"])

    return waiting.until(what, probe, timeout, between=lambda: asyncio.run(next_revision()))


def writable_by_machines(path: Path) -> Path:
    """`path` as a place every machine's agent can write to, returned as the real path to
    give charms. As root each local machine runs as a user of its own, who cannot enter a
    pytest tmp dir (0700): then `path` is a link to a world-writable dir in /tmp."""
    if path.is_symlink():
        return path.resolve()
    if os.geteuid() != 0:
        path.mkdir(parents=True, exist_ok=True)
        return path
    if path.is_dir():
        path.rmdir()  # made empty by the caller; its contents would be lost otherwise
    shared = Path(tempfile.mkdtemp(prefix="runecraft-shared-", dir="/tmp"))
    shared.chmod(0o1777)
    atexit.register(shutil.rmtree, shared, True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(shared)
    return shared


@pytest.fixture(scope="session")
def charm_cache() -> Path:
    """Packed-charm dependency cache shared by every home of the session (pip runs once)."""
    return Path(tempfile.mkdtemp(prefix="runecraft-cache-"))


@pytest.fixture
def rune(tmp_path: Path, charm_cache: Path) -> Iterator[Rune]:
    runner = Rune(home=tmp_path / "home", cache=charm_cache)
    yield runner
    ephemeral.kill_controller(runner.home)
