"""A charm author's integration test, run as they would run it: the example test alone in a
directory (no conftest.py, no configuration), pytest with warnings as errors, Runecraft's
plugin the only one loaded. It bootstraps a controller, deploys, waits and runs an action."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.e2e

EXAMPLE_TEST = REPO / "examples" / "tests" / "test_hello.py"


def test_the_example_charm_test_passes_under_the_plugin_alone(
    tmp_path: Path, charm_cache: Path
) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    shutil.copy(EXAMPLE_TEST, project / "tests" / EXAMPLE_TEST.name)
    shutil.copytree(EXAMPLES / "hello", project / "charms" / "hello")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RUNECRAFT_"))}
    basetemp = tmp_path / "basetemp"

    result = subprocess.run(
        [
            *(sys.executable, "-W", "error", "-m", "pytest", "-p", "runecraft.testing"),
            *("-v", "--basetemp", str(basetemp), "tests"),
        ],
        cwd=project,
        env={
            **environ,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "RUNECRAFT_CACHE_DIR": str(charm_cache),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "tests/test_hello.py::test_deploy_wait_and_greet PASSED" in result.stdout
    assert "warning" not in result.stdout.lower()
    home = basetemp / "runecraft0" / "home"
    assert home.is_dir() and not (home / "controller").exists(), "killed at session end"
    assert processes_naming(basetemp) == [], "no controller or agent outlives the session"


def processes_naming(path: Path) -> list[str]:
    """Command lines of the running processes that mention `path`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        line = " ".join(word.decode(errors="replace") for word in words)
        if str(path) in line:
            found.append(line)
    return found
