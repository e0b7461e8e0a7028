"""Chaos: kill the controller, the broker, machine agents and hooks, and fill the home's
disk, at seeded random points while a related deploy converges through config changes and
scaling; then every committed hook is checked against Juju's rules and the final model
against the one asked for. Set RUNECRAFT_CHAOS_SEED to replay a run."""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._tmpfs import small_tmpfs
from tests.chaos import history
from tests.chaos.harness import Chaos, Plan, Rune, controller_name
from tests.conftest import CHAOS_SUMMARY

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.mosquitto,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs home: needs root"),
    pytest.mark.skipif(shutil.which("mosquitto") is None, reason="needs mosquitto"),
    pytest.mark.timeout(180),
]

PLAN = Plan(kills=5, changes=5, gap=(0.5, 2.5), retry_until=90.0)
"""One kill of each kind (a kind that found nothing to kill is tried again until 90 s into
the run), five model changes: 45-90 s on a loaded 2-core machine."""
SETTLED_BY = 150.0
"""Seconds into the run by which the model must have settled: with bootstrap before and
kill-controller after, the run stays inside the 180 s bound."""


@pytest.fixture
def chaos(charm_cache: Path) -> Iterator[Chaos]:
    seed = int(os.environ.get("RUNECRAFT_CHAOS_SEED") or random.randrange(1 << 32))
    record_dir = Path(tempfile.mkdtemp(prefix="rc-chaos-rec-", dir="/tmp"))
    record_dir.chmod(0o1777)  # the machines' own users write there
    try:
        with small_tmpfs("64m") as home:
            rune = Rune(home=home / "home", cache=charm_cache, timeout=60)
            try:
                yield Chaos(rune, dataclasses.replace(PLAN, seed=seed), record_dir, log=_progress)
            finally:
                name = controller_name(rune.home)
                if name is not None:
                    rune("kill-controller", name, "--no-prompt", check=False)
    finally:
        shutil.rmtree(record_dir, ignore_errors=True)


def _progress(line: str) -> None:
    print(line, flush=True)


@pytest.fixture(scope="session")
def charm_cache() -> Iterator[Path]:
    cache = Path(tempfile.mkdtemp(prefix="rc-chaos-cache-"))
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


def test_kills_and_a_full_disk_leave_a_lawful_history_and_the_asked_for_model(
    chaos: Chaos, request: pytest.FixtureRequest
) -> None:
    chaos.deploy()
    chaos.shake()
    chaos.converge(timeout=max(SETTLED_BY - chaos.now(), 10.0))
    histories = chaos.histories()
    violations = history.check(histories)
    problems = chaos.model_errors(histories) + chaos.removed_errors()
    summary = chaos.summary(histories, violations, problems)
    request.node.user_properties.append((CHAOS_SUMMARY, summary))
    assert chaos.missed() == [], "planned kills that never found anything to kill"
    assert violations == []
    assert problems == []
    assert [str(f) for f in chaos.findings] == []
