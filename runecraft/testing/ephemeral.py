"""The working parts of the pytest plugin (`runecraft.testing`): bootstrap a controller in a
private home, put a `juju` that runs `rune-juju` first on PATH, and open temporary models.

Imported only when a fixture is used, so a pytest session that never asks for one pays for
none of it. Everything goes through the `rune` CLI in subprocesses, as a user would."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
import yaml

from runecraft import errors

if TYPE_CHECKING:
    import jubilant

__all__ = [
    "Controller",
    "controller_log",
    "ephemeral",
    "kill_controller",
    "require_jubilant",
    "rune",
    "temp_model",
    "write_juju_shim",
]

RUNE = (sys.executable, "-m", "runecraft.cli")
"""The CLI of the interpreter running the tests (the one Runecraft is installed in)."""

INSTALL_HINT = "pip install 'runecraft[testing]'"


@dataclass(frozen=True)
class Controller:
    """A controller the session bootstrapped."""

    name: str
    home: Path
    """Its RUNECRAFT_HOME: `RUNECRAFT_HOME=<home> rune status` reaches it."""
    juju: Path
    """The `juju` executable first on PATH while it runs."""


def rune(home: Path, *args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """`rune ARGS` against `home` (the packing cache is the caller's RUNECRAFT_CACHE_DIR or
    the default, so packed charms are reused across sessions)."""
    env = {**os.environ, "RUNECRAFT_HOME": str(home)}
    return subprocess.run(
        [*RUNE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def controller_log(home: Path, lines: int = 40) -> str:
    """The last `lines` of the controller's log in `home`, for failure messages."""
    path = home / "controller" / "controller.log"
    if not path.exists():
        return "(none)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def kill_controller(home: Path) -> None:
    """Kill the controller bootstrapped in `home`, if any, and every agent it started."""
    config = home / "controller" / "controller.yaml"
    if config.exists():
        name = yaml.safe_load(config.read_text())["name"]
        rune(home, "kill-controller", name, "--no-prompt")


def _rune_juju() -> str:
    """The `rune-juju` console script installed beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "rune-juju"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("rune-juju")
    if found is None:
        raise errors.NotFoundError(
            f"rune-juju is not installed beside {sys.executable} nor on PATH: {INSTALL_HINT}"
        )
    return found


def write_juju_shim(bin_dir: Path) -> Path:
    """A `juju` executable in `bin_dir` that execs `rune-juju`; put `bin_dir` first on PATH
    and whatever runs `juju` drives Runecraft."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "juju"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(_rune_juju())} "$@"\n')
    shim.chmod(0o755)
    return shim


@contextmanager
def ephemeral(base: Path, *, keep: bool = False, name: str = "runecraft") -> Iterator[Controller]:
    """A controller on the local substrate in `base`/home (RUNECRAFT_HOME set to it and
    `base`/bin first on PATH while it runs), killed at the end unless `keep`."""
    home = base / "home"
    shim = write_juju_shim(base / "bin")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNECRAFT_HOME", str(home))
        patch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}")
        started = rune(home, "bootstrap", "local", name)
        try:
            if started.returncode != 0:
                raise errors.PermanentError(
                    f"rune bootstrap exited {started.returncode}: {started.stderr.strip()}\n"
                    f"controller log:\n{controller_log(home)}"
                )
            yield Controller(name=name, home=home, juju=shim)
        finally:
            if not keep:
                kill_controller(home)


def require_jubilant() -> ModuleType:
    """The `jubilant` module, or an error saying how to install it."""
    try:
        import jubilant  # noqa: PLC0415 (only the `juju` fixture needs it)
    except ImportError as exc:
        raise errors.NotFoundError(
            f"the `juju` fixture needs jubilant, which is not installed: {INSTALL_HINT}"
        ) from exc
    return jubilant


@contextmanager
def temp_model(controller: Controller, *, keep: bool = False) -> Iterator[jubilant.Juju]:
    """A `jubilant.Juju` on a new model of a unique name on `controller`; unless `keep`, its
    destruction is started at the end and not waited for (the next test need not wait for
    this one's machines to stop; killing the controller ends whatever is left)."""
    jubilant = require_jubilant()
    juju = jubilant.Juju(cli_binary=controller.juju)
    juju.add_model(f"test-{secrets.token_hex(4)}", controller=controller.name)
    model = juju.model
    assert model is not None  # add_model switched to it
    try:
        yield juju
    finally:
        if not keep:
            juju.destroy_model(model, destroy_storage=True, force=True, no_wait=True)
