"""`juju exec` pieces: parameters, the CLI's failure verdict, and running a command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runecraft import errors
from runecraft.agents import _unitlog, hookrunner
from runecraft.cli import _exec
from runecraft.schemas import api
from runecraft.schemas import exec as exec_schema


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "command"),
        ({"command": ""}, "command"),
        ({"command": "true", "timeout": 0}, "timeout"),
        ({"command": "true", "timeout": "soon"}, "timeout"),
        ({"command": "true", "colour": "red"}, "colour"),
    ],
)
def test_bad_exec_params_are_named(params: dict[str, Any], named: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match=named):
        exec_schema.ExecParams.parse(params)


def test_exec_params_default_timeout() -> None:
    parsed = exec_schema.ExecParams.parse({"command": "ls"})
    assert (parsed.command, parsed.timeout) == ("ls", exec_schema.DEFAULT_TIMEOUT)


def _task(status: str, message: str = "", code: int | None = None) -> api.ActionInfo:
    return api.ActionInfo(
        id="7",
        unit="a/0",
        name="juju-exec",
        params={},
        status=status,
        message=message,
        results={} if code is None else {"return-code": code},
        enqueued=0.0,
    )


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (_task("completed", code=0), None),
        (_task("completed"), None),
        (_task("completed", code=2), ' id "7" with return code 2'),
        (_task("failed", "command timed out after 1.0s"), ' id "7": command timed out after 1.0s'),
    ],
)
def test_exec_failure_verdict(task: api.ActionInfo, expected: str | None) -> None:
    message = _exec.exec_failure([task])
    if expected is None:
        assert message is None
    else:
        assert message is not None and "task failed" in message
        assert expected in message.splitlines()


async def _command(tmp_path: Path, command: str, timeout: float) -> hookrunner.HookResult:
    log = _unitlog.UnitLog(tmp_path / "unit.log", "a/0")
    try:
        return await hookrunner.run_command(
            charm_dir=tmp_path,
            command=command,
            env={"PATH": "/usr/bin:/bin", "GREETING": "hi"},
            log=log,
            timeout=timeout,
            kill_grace=1.0,
        )
    finally:
        log.close()


async def test_command_exit_code_is_its_answer(tmp_path: Path) -> None:
    result = await _command(tmp_path, 'echo "$GREETING" "$PWD"; echo e >&2; exit 4', 30.0)
    assert result.ok and result.outcome is hookrunner.HookOutcome.SUCCEEDED
    assert (result.exit_code, result.stdout, result.stderr) == (
        4,
        f"hi {tmp_path}\n".encode(),
        b"e\n",
    )


async def test_command_past_its_timeout_is_killed_and_fails(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    result = await _command(tmp_path, f"sleep 0.3; sleep 30; touch {marker}", 0.1)
    assert not result.ok and "timed out" in result.message
    assert not marker.exists()
