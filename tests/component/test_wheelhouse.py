"""The agent wheelhouse installs into a bare venv and runs the agent with nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runecraft.controller.providers import _wheelhouse

pytestmark = pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3 on PATH")

_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> _wheelhouse.Wheelhouse:
    return _wheelhouse.build_wheelhouse(tmp_path_factory.mktemp("cache"))


def _sh(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", script], env=_ENV, capture_output=True, text=True, check=False
    )


def test_wheels_hold_the_agent_and_not_the_controller(house: _wheelhouse.Wheelhouse) -> None:
    names = {wheel.name.split("-")[0].lower() for wheel in house.wheels}
    assert {"runecraft", "pydantic", "aiomqtt", "httpx", "httpcore", "pyyaml"} <= names
    assert not names & {"fastapi", "sqlalchemy", "uvicorn", "amqtt", "asyncpg", "setuptools"}
    with zipfile.ZipFile(next(w for w in house.wheels if w.name.startswith("runecraft-"))) as z:
        listed = z.namelist()
    assert "runecraft/agents/__main__.py" in listed
    assert not [name for name in listed if "__pycache__" in name]


def test_same_controller_reuses_the_house(house: _wheelhouse.Wheelhouse, tmp_path: Path) -> None:
    again = _wheelhouse.build_wheelhouse(house.directory.parent.parent)
    assert again == house


def test_installed_agent_runs_from_its_own_venv(
    house: _wheelhouse.Wheelhouse, tmp_path: Path
) -> None:
    prefix = tmp_path / "opt"
    script = _wheelhouse.install_script(str(prefix), str(house.directory), house.python)
    first = _sh(script)
    have = _sh("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'").stdout.strip()
    if have != "{}.{}".format(*house.python):
        assert first.returncode == 3
        assert "the Runecraft agent wheels need Python" in first.stderr
        return
    assert first.returncode == 0, first.stderr
    assert _sh(script).returncode == 0  # re-runnable
    # Compiled at install: the machine users running it cannot write bytecode.
    python = str(prefix / "venv" / "bin" / "python")
    cached = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util, runecraft.agents.machine as m, os; "
            "print(os.path.exists(importlib.util.cache_from_source(m.__file__)))",
        ],
        env={**_ENV, "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=tmp_path,  # not the source tree's package
        capture_output=True,
        text=True,
        check=False,
    )
    assert cached.stdout.strip() == "True", cached.stderr
    config = tmp_path / "missing.json"
    agent = subprocess.run(
        _wheelhouse.agent_argv(str(prefix), str(config)),
        env=_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert agent.returncode == 2
    assert "cannot read agent config" in agent.stderr
    no_controller = subprocess.run(
        [python, "-c", "import sqlalchemy"], env=_ENV, capture_output=True, check=False
    )
    assert no_controller.returncode != 0


def test_wrong_python_is_refused_before_anything_is_written(
    house: _wheelhouse.Wheelhouse, tmp_path: Path
) -> None:
    prefix = tmp_path / "opt"
    other = (house.python[0], house.python[1] - 1)
    result = _sh(_wheelhouse.install_script(str(prefix), str(house.directory), other))
    assert result.returncode == 3
    assert f"need Python {other[0]}.{other[1]}" in result.stderr
    assert not prefix.exists()


def test_the_house_matches_this_interpreter(house: _wheelhouse.Wheelhouse) -> None:
    assert house.python == sys.version_info[:2]


def test_the_agents_distributions_include_what_the_pebble_agent_imports() -> None:
    """Units of sidecar charms run `rune-pebble` beside them on machines: the agent's venv
    must hold its server libraries, which nothing else the agent imports loads."""
    found = _wheelhouse.agent_distributions()
    assert {"h11", "wsproto", "pyyaml", "httpx", "runecraft"} <= set(found), found
