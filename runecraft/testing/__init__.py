"""pytest plugin for charm authors: an ephemeral Runecraft controller, `juju` on PATH, and a
`jubilant.Juju` on a temporary model.

Installed as the `pytest11` entry point `runecraft`, so it loads in every pytest session of
anyone who installs Runecraft: this module only declares an option and fixtures. Nothing
starts, and nothing heavier than pytest is imported, until a test asks for a fixture.

Fixtures:
    runecraft_controller  (session) a controller on the local substrate in a private home
    juju_shim             (session) a `juju` executable first on PATH that runs `rune-juju`
    juju                  (test) a `jubilant.Juju` on a fresh model, destroyed afterwards
                          unless pytest runs with `--keep-models`
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import jubilant

    from runecraft.testing.ephemeral import Controller

__all__ = [
    "juju",
    "juju_shim",
    "pytest_load_initial_conftests",
    "pytest_terminal_summary",
    "runecraft_controller",
]

KEEP_MODELS = "--keep-models"
KEPT = pytest.StashKey["Controller"]()


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(parser: pytest.Parser) -> Iterator[None]:
    """Add `--keep-models` once the other plugins and the initial conftest.py files have
    added theirs: jubilant's documented conftest and pytest-operator define the same option
    with the same meaning, and adding it twice would stop the session before any test."""
    result = yield
    with contextlib.suppress(ValueError, argparse.ArgumentError):  # defined: read theirs
        parser.getgroup("runecraft", "Runecraft charm testing").addoption(
            KEEP_MODELS,
            action="store_true",
            default=False,
            help="keep each test's model, and the controller holding them, after the session",
        )
    return result


def _keep_models(config: pytest.Config) -> bool:
    return bool(config.getoption(KEEP_MODELS, default=False))


@pytest.fixture(scope="session")
def runecraft_controller(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Controller]:
    """A controller bootstrapped on the local substrate in a temporary RUNECRAFT_HOME (its
    API and broker on free ports), killed at the end of the session."""
    from runecraft.testing import ephemeral  # noqa: PLC0415 (lazy: loads in every session)

    keep = _keep_models(request.config)
    with ephemeral.ephemeral(tmp_path_factory.mktemp("runecraft"), keep=keep) as controller:
        if keep:
            request.config.stash[KEPT] = controller
        yield controller


@pytest.fixture(scope="session")
def juju_shim(runecraft_controller: Controller) -> Path:
    """The `juju` executable first on PATH for the session: tools that run `juju` (jubilant,
    scripts) drive the session's controller."""
    return runecraft_controller.juju


@pytest.fixture
def juju(request: pytest.FixtureRequest) -> Iterator[jubilant.Juju]:
    """A `jubilant.Juju` on a model of a unique name, destroyed after the test unless
    `--keep-models` is given."""
    from runecraft.testing import ephemeral  # noqa: PLC0415 (lazy: loads in every session)

    ephemeral.require_jubilant()  # before bootstrapping a controller it could not drive
    controller: Controller = request.getfixturevalue("runecraft_controller")
    request.getfixturevalue("juju_shim")
    keep = _keep_models(request.config)
    with ephemeral.temp_model(controller, keep=keep) as model:
        yield model


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """With `--keep-models`, say where the controller holding the kept models is."""
    kept = terminalreporter.config.stash.get(KEPT, None)
    if kept is not None:
        terminalreporter.write_line(
            f"runecraft: kept controller {kept.name!r}: RUNECRAFT_HOME={kept.home} rune status "
            f"(rune kill-controller {kept.name} --no-prompt removes it)"
        )
