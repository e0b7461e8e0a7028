"""What a charm author's integration test costs under Runecraft's pytest plugin: the example
test (`examples/tests/test_hello.py`: deploy `hello`, wait for active, run its `greet`
action) run by pytest in a subprocess, in a directory of its own holding only the test and
the charm, with the plugin alone loaded and warnings as errors: as `pytest` runs for them.

    python benchmarks/charm_test.py [--runs 3]

Prints per run the whole pytest wall time (bootstrapping the controller, adding and
destroying the model, killing the controller included) and the test's own call (deploy →
active → action, from pytest's junit report). The charm is packed beforehand, so pip is not
in the figure. Goal: the pytest run ≤ 15 s on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from _rune import REPO, packed_charms

EXAMPLE_TEST = REPO / "examples" / "tests" / "test_hello.py"
CHARM = REPO / "examples" / "charms" / "hello"


@dataclass(frozen=True)
class Timed:
    """Seconds of one run of the example test."""

    session: float
    """The whole pytest process."""
    test: float
    """The test function alone: deploy → active → action."""


def project(directory: Path) -> Path:
    """A charm project in `directory`: tests/test_hello.py and charms/hello, nothing else."""
    (directory / "tests").mkdir(parents=True)
    shutil.copy(EXAMPLE_TEST, directory / "tests" / EXAMPLE_TEST.name)
    shutil.copytree(CHARM, directory / "charms" / CHARM.name)
    return directory


def run_once(cache: Path) -> Timed:
    """Run the example test once in a fresh project; exits with pytest's output if it fails."""
    with tempfile.TemporaryDirectory(prefix="rc-bench-charm-test-") as scratch:
        directory = project(Path(scratch) / "project")
        report = Path(scratch) / "report.xml"
        environ = {
            k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RUNECRAFT_"))
        }
        env = {**environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "RUNECRAFT_CACHE_DIR": str(cache)}
        argv = [
            *(sys.executable, "-W", "error", "-m", "pytest", "-p", "runecraft.testing", "-q"),
            *("--basetemp", str(Path(scratch) / "basetemp"), "--junitxml", str(report)),
            *("-o", "junit_duration_report=call", "tests"),
        ]
        start = time.perf_counter()
        result = subprocess.run(
            argv, cwd=directory, env=env, capture_output=True, text=True, check=False
        )
        session = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"the example test failed:\n{result.stdout}\n{result.stderr}")
        [case] = ElementTree.parse(report).getroot().iter("testcase")
        return Timed(session=session, test=float(case.get("time", "nan")))


def measure(cache: Path, runs: int) -> list[Timed]:
    return [run_once(cache) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cache = packed_charms([CHARM.name])
    try:
        for number, timed in enumerate(measure(cache, args.runs), 1):
            print(
                f"run {number}: pytest {timed.session:.1f} s "
                f"(the test's deploy → active → action: {timed.test:.1f} s)"
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
