"""Juju's commands and behaviours, driven through `rune-juju` (linked as `juju` first on
PATH) with the real `jubilant` where it has a method, against one controller bootstrapped
once for the module."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import jubilant
import pytest

from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rune(charm_cache: Path) -> Iterator[Rune]:
    """One bootstrapped controller for the module (killed after)."""
    home = Path(tempfile.mkdtemp(prefix="runecraft-cmds-"))
    runner = Rune(home=home / "home", cache=charm_cache)
    runner("bootstrap")
    yield runner
    runner("kill-controller", "runecraft", "--no-prompt", check=False)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def juju(rune: Rune) -> Iterator[jubilant.Juju]:
    """jubilant on a model with `hello` (two units, with the `greet` action) deployed."""
    script = shutil.which("rune-juju", path=str(Path(sys.executable).parent))
    assert script is not None, "rune-juju is not installed: pip install -e '.[dev]'"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNECRAFT_HOME", str(rune.home))
        patch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
        client = jubilant.Juju(cli_binary=script, wait_timeout=300)
        client.add_model("cmds")
        client.deploy(EXAMPLES / "hello", "hello", num_units=2)
        client.wait(jubilant.all_active)
        yield client


def test_run_and_exec_on_what_does_not_exist_exit_0_with_nothing_on_stdout(
    rune: Rune, juju: jubilant.Juju
) -> None:
    """As Juju 3.6: the error on stderr, exit 0, empty stdout; jubilant's ValueError."""
    for args, message in (
        (("run", "hello/0", "nope"), 'action "nope" not defined on unit "hello/0"'),
        (("run", "hello/7", "greet"), 'unit "hello/7" not found'),
        (("exec", "--unit", "nope/0", "--", "true"), 'unit "nope/0" not found'),
        (("exec", "--application", "nope", "--", "true"), 'application "nope" not found'),
    ):
        result = rune(*args, "--format", "json", "--model", "cmds")
        assert (result.returncode, result.stdout) == (0, ""), args
        assert result.stderr.startswith("ERROR ") and message in result.stderr, result.stderr
    with pytest.raises(ValueError, match="nope"):
        juju.run("hello/0", "nope")
    with pytest.raises(ValueError, match="hello/7"):
        juju.run("hello/7", "greet")
    with pytest.raises(ValueError, match="nope/0"):
        juju.exec("true", unit="nope/0")
    # A missing model is still an error.
    missing = rune("run", "hello/0", "greet", "--model", "no-such-model", check=False)
    assert missing.returncode == 1 and "no-such-model" in missing.stderr
    assert juju.run("hello/0", "greet", {"name": "you"}).status == "completed"


def test_a_user_secret_is_owned_by_model(juju: jubilant.Juju) -> None:
    uri = juju.add_secret("api-token", {"token": "abc"})
    listed = json.loads(juju.cli("secrets", "--format", "json"))
    assert listed[uri.unique_identifier]["owner"] == "<model>"
    assert juju.secrets()[0].owner == "<model>"


def test_refresh_with_the_same_charm_makes_a_new_revision(juju: jubilant.Juju) -> None:
    before = juju.status().apps["hello"].charm_rev
    juju.refresh("hello", path=EXAMPLES / "hello")
    assert juju.status().apps["hello"].charm_rev == before + 1
    juju.wait(jubilant.all_active)
