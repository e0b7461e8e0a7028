"""`rune exec` against a deployed bash charm: hook context, Juju's output shape, failures."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import jubilant
import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import Rune

APP = c.PAIRS["bash"].provider


def _exec(rune: Rune, *args: str) -> tuple[int, dict[str, Any], str]:
    result = rune("exec", "--format", "json", *args, check=False)
    document = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, document, result.stderr


def test_exec_runs_in_hook_context(
    rune: Rune, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rune("bootstrap")
    c.deploy(rune, APP, tmp_path / "events", units=2)
    c.settle(rune)
    status = rune.status()
    leader = c.leader_of(status, APP)
    units = c.unit_names(status, APP)

    # -- Hook tools on PATH, the unit's JUJU_* environment, the charm dir as cwd; the
    # command is the arguments joined by spaces (a shell line), as with `juju exec`.
    code, document, err = _exec(
        rune,
        "--unit",
        leader,
        "--",
        "is-leader;",
        "relation-ids",
        "peers;",
        'echo "$JUJU_UNIT_NAME" "${JUJU_HOOK_NAME-unset}";',
        "test -f metadata.yaml && echo in-charm-dir",
    )
    assert code == 0, err
    assert list(document) == [leader], document
    task = document[leader]
    assert task["status"] == "completed" and task["unit"] == leader, task
    assert task["results"]["return-code"] == 0, task
    lines = task["results"]["stdout"].splitlines()
    assert lines[0] == "True", lines
    assert lines[1].startswith("peers:"), lines
    assert lines[2:] == [f"{leader} unset", "in-charm-dir"], lines

    # -- --application reaches every unit; each answers for itself.
    code, document, err = _exec(rune, "--application", APP, "--", "is-leader")
    assert code == 0, err
    assert sorted(document) == sorted(units), document
    answers = {unit: task["results"]["stdout"].strip() for unit, task in document.items()}
    assert answers == {u: "True" if u == leader else "False" for u in units}, answers

    # -- A failing command: exit 1 with `task failed`, yet the task is printed with its
    # return code and output (what jubilant parses before raising TaskError).
    code, document, err = _exec(rune, "--unit", leader, "--", "echo out; echo err >&2; exit 3")
    assert code == 1 and "task failed" in err and "return code 3" in err, err
    results = document[leader]["results"]
    assert (results["return-code"], results["stdout"], results["stderr"]) == (3, "out\n", "err\n")

    # -- A hook tool refusing bad input inside exec fails the command like in a hook.
    code, document, err = _exec(rune, "--unit", leader, "--", "relation-get", "-r", "99", "-")
    assert code == 1, err
    assert "relation not found" in document[leader]["results"]["stderr"], document

    # -- Plain output is the command's stdout.
    plain = rune("exec", "--unit", leader, "--", "echo", "hello")
    assert plain.stdout == "hello\n", plain

    # -- Bad targets: clear error, nothing queued. A unit or application that does not
    # exist exits 0 with nothing on stdout, as Juju 3.6 (jubilant reads that as not found);
    # a malformed target is a usage error.
    for args, named, code in [
        (["--unit", f"{APP}/9"], f"{APP}/9", 0),
        (["--application", "nope"], "nope", 0),
        (["--unit", "bad"], "bad", 1),
        ([], "--unit", 1),
    ]:
        result = rune("exec", *args, "--", "true", check=False)
        assert (result.returncode != 0) == bool(code), (args, result.returncode)
        assert named in result.stderr and result.stdout == "", (args, result.stderr)

    # -- jubilant's `Juju.exec` (through `rune-juju` as `juju`) reads the same shape: the
    # task, TaskError for a non-zero exit, TimeoutError for a command past `wait`.
    script = shutil.which("rune-juju", path=str(Path(sys.executable).parent))
    assert script is not None, "rune-juju is not installed"
    monkeypatch.setenv("RUNECRAFT_HOME", str(rune.home))
    monkeypatch.setenv("RUNECRAFT_CACHE_DIR", str(rune.cache))
    juju = jubilant.Juju(model="default", cli_binary=script)
    task = juju.exec("echo", "hi", unit=leader)
    assert (task.status, task.return_code, task.stdout) == ("completed", 0, "hi\n")
    with pytest.raises(jubilant.TaskError) as failed:
        juju.exec("exit 2", unit=leader)
    assert failed.value.task.return_code == 2
    with pytest.raises(TimeoutError):
        juju.exec("sleep 30", unit=leader, wait=1)
