"""Bad input to the Juju-compatible commands, against one shared controller: each names what
is wrong, exits non-zero (2 for usage errors, 1 otherwise) and changes nothing. The checks
run the `rune-juju` entry point in-process (one CLI start-up each would take minutes on a
loaded machine); the controller is a real one."""

from __future__ import annotations

import json

import pytest

from runecraft.cli import juju_main
from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e

BAD = [
    (["show-model", "nope"], 1, 'model "nope" not found'),
    (["show-model", "elsewhere:admin/default"], 1, 'controller "elsewhere" not found'),
    (["add-model", "other", "--controller", "elsewhere"], 1, 'controller "elsewhere" not found'),
    (["add-model", "elsewhere:admin/other"], 1, 'controller "elsewhere" not found'),
    (["show-model", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["show-unit", "nope/0"], 1, 'unit "nope/0" not found'),
    (["show-unit", "hello-bash/7"], 1, 'unit "hello-bash/7" not found'),
    (["show-unit", "hello-bash"], 1, 'invalid unit name "hello-bash"'),
    (["show-unit"], 2, "Missing argument"),
    (["scale-application", "nope", "2"], 1, 'application "nope" not found'),
    (["scale-application", "hello-bash", "x"], 2, "'x' is not a valid integer"),
    (["scale", "hello-bash", "--", "-1"], 2, "-1 is not in the range x>=0"),
    (["scale-application", "hello-bash"], 2, "Missing argument 'SCALE'"),
    (["version", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["status", "--model", "ctl:admin/nope"], 1, 'model "nope" not found'),
    (["status", "--bogus"], 2, "No such option"),
    (["config", "nope"], 1, 'application "nope" not found'),
    (["config", "hello-bash", "nope=1"], 1, 'unknown option "nope"'),
    (["config", "hello-bash", "--reset", "nope"], 1, "nope"),
    (["config", "hello-bash", "message", "x=1"], 2, "give either one KEY"),
    (["config", "hello-bash", "--file", "/nonexistent.yaml"], 1, "cannot read config file"),
    (["deploy", "/nonexistent/charm"], 1, 'charm "/nonexistent/charm" not found'),
    (["deploy", str(EXAMPLES / "hello-bash"), "--num-units", "-2"], 2, "--num-units"),
    (["deploy", str(EXAMPLES / "hello-bash"), "other", "--config", "=x"], 2, 'invalid config "=x"'),
    (["deploy", str(EXAMPLES / "hello-bash"), "x", "--constraints", "mem=lots"], 1, '"mem"'),
    (["deploy", str(EXAMPLES / "hello-bash"), "x", "--constraints", "gpu=1"], 1, '"gpu"'),
    (["deploy", str(EXAMPLES / "hello-bash"), "x", "--base", "jammy"], 1, 'invalid base "jammy"'),
    (["trust", "nope"], 1, 'application "nope" not found'),
    (["trust", "hello-bash", "--scope", "world"], 2, "'world' is not 'cluster'"),
    (["constraints", "nope"], 1, 'application "nope" not found'),
    (["set-constraints", "hello-bash", "cores=two"], 1, 'constraint "cores"'),
    (["set-constraints", "hello-bash"], 2, "Missing argument"),
    (["set-model-constraints", "mem=8"], 0, ""),
    (["set-model-constraints", "mem=8Q"], 1, 'constraint "mem"'),
    (["set-model-constraints", "--model", "nope", "mem=8G"], 1, 'model "nope" not found'),
    (["model-constraints", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["add-unit", "nope"], 1, 'application "nope" not found'),
    (["remove-unit", "--no-prompt", "nope/0"], 1, 'unit "nope/0" not found'),
    (["remove-unit", "--no-prompt", "hello-bash", "--num-units", "1"], 1, "it has 0"),
    (["remove-unit", "--no-prompt", "nope", "--num-units", "1"], 1, '"nope" not found'),
    (["remove-unit", "--no-prompt", "hello-bash", "--num-units", "0"], 2, "--num-units"),
    (
        ["destroy-model", "default", "--no-prompt", "--destroy-storage", "--release-storage"],
        2,
        "cannot be used together",
    ),
    (["remove-application", "--no-prompt", "nope"], 1, 'application "nope" not found'),
    (["run", "nope/0", "greet"], 1, 'unit "nope/0" not found'),
    (["run", "hello-bash/0", "x", "--wait", "soon"], 2, 'invalid duration "soon"'),
    (["destroy-model", "nope", "--no-prompt", "--timeout", "600s"], 1, 'model "nope" not found'),
    (["destroy-model", "default", "--no-prompt", "--timeout", "ages"], 2, "invalid duration"),
]


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
