"""Bad input to the Juju-compatible commands, against a bootstrapped controller: each names
what is wrong, exits non-zero (2 for usage errors, 1 otherwise) and changes nothing. The
checks run the `rune-juju` entry point in-process (one CLI start-up each would take minutes
on a loaded machine); the controller is a real one, reached over HTTP."""

from __future__ import annotations

import json

import pytest

from runecraft.cli import juju_main
from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e

BAD = [
    (["show-model", "nope"], 1, 'model "nope" not found'),
    (["show-unit", "hello-bash/7"], 1, 'unit "hello-bash/7" not found'),
    (["config", "hello-bash", "nope=1"], 1, 'unknown option "nope"'),
    (["deploy", str(EXAMPLES / "hello-bash"), "x", "--constraints", "mem=lots"], 1, '"mem"'),
    (["set-model-constraints", "mem=8"], 0, ""),
    (["remove-unit", "--no-prompt", "hello-bash", "--num-units", "1"], 1, "it has 0"),
    (["run", "nope/0", "greet"], 0, 'unit "nope/0" not found'),  # Juju 3.6 exits 0
    (["scale-application", "hello-bash", "x"], 2, "'x' is not a valid integer"),
]
"""A few cases over the real controller's HTTP; the whole table of bad input runs in
process in tests/component/test_cli_in_process.py."""


def _juju(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the `rune-juju` entry point in this process (the controller is a real one):
    its exit code and stderr."""
    try:
        juju_main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_bad_input_names_the_problem_and_changes_nothing(
    rune: Rune, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "0", "--constraints", "mem=512M")
    before = rune.status()
    monkeypatch.setenv("RUNECRAFT_HOME", str(rune.home))
    monkeypatch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
    wrong = []
    for args, code, message in BAD:
        got, stderr = _juju(args, capsys)
        if (got, message in stderr) != (code, True):
            wrong.append((args, got, stderr))
    assert wrong == []
    after = rune.status()
    assert after["applications"].keys() == before["applications"].keys() == {"hello-bash"}
    assert after["applications"]["hello-bash"]["units"] == {}
    assert rune("constraints", "hello-bash").stdout.strip() == "mem=512M"
    assert rune("model-constraints").stdout.strip() == "mem=8M"
    config = json.loads(rune("config", "hello-bash", "--format", "json").stdout)
    assert config["application-config"]["trust"]["value"] is False
    models = json.loads(rune("models", "--format", "json").stdout)["models"]
    assert [m["short-name"] for m in models] == ["default"]
