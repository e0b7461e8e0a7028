"""Pure parts of the CLI: argument hoisting and the settled-wait judgement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runecraft import errors
from runecraft.cli import _argv, _ssh, _wait


@pytest.mark.parametrize(
    ("argv", "model", "rest"),
    [
        (["status"], None, ["status"]),
        (["-m", "staging", "status"], "staging", ["status"]),
        (
            ["status", "--model", "staging", "--format", "json"],
            "staging",
            ["status", "--format", "json"],
        ),
        (["status", "--model=ctl:admin/x"], "ctl:admin/x", ["status"]),
        (["exec", "--", "ls", "-m", "x"], None, ["exec", "--", "ls", "-m", "x"]),
        (["deploy", "-mfoo", "./c"], "foo", ["deploy", "./c"]),
    ],
)
def test_hoist_model(argv: list[str], model: str | None, rest: list[str]) -> None:
    assert _argv.hoist_model(argv) == (model, rest)


def test_hoist_model_needs_a_value() -> None:
    with pytest.raises(errors.UsageError, match="needs a model name"):
        _argv.hoist_model(["status", "-m"])


@pytest.mark.parametrize(
    ("spec", "name"), [("m", "m"), ("admin/m", "m"), ("c:admin/m", "m"), ("c:m", "m")]
)
def test_model_name(spec: str, name: str) -> None:
    assert _argv.model_name(spec) == name


def status(
    *units: tuple[str, str, str], app: str = "active", reconciled: bool = True
) -> dict[str, Any]:
    return {
        "model": {"reconciled": reconciled, "settled": reconciled},
        "applications": {
            "hello": {
                "application-status": {"current": app, "message": ""},
                "units": {
                    name: {
                        "workload-status": {"current": workload, "message": "m"},
                        "juju-status": {"current": agent},
                        "settled": True,
                    }
                    for name, workload, agent in units
                },
            }
        },
    }


@pytest.mark.parametrize(
    ("document", "apps", "state"),
    [
        (status(("hello/0", "active", "idle")), (), "ready"),
        (status(("hello/0", "active", "executing")), (), "pending"),
        (status(("hello/0", "maintenance", "idle"), app="maintenance"), (), "pending"),
        (status(("hello/0", "error", "error"), app="error"), (), "error"),
        (status(("hello/0", "active", "idle"), reconciled=False), (), "pending"),
        (status(("hello/0", "active", "idle")), ("other",), "pending"),
        (status(("hello/0", "active", "idle")), ("hello",), "ready"),
        ({"model": {"reconciled": True, "settled": True}, "applications": {}}, (), "ready"),
        (status(app="unknown"), (), "ready"),
    ],
)
def test_judge(document: dict[str, Any], apps: tuple[str, ...], state: str) -> None:
    assert _wait.judge(document, apps).state == state


def test_an_error_not_yet_reported_on_the_latest_change_is_pending() -> None:
    document = status(("hello/0", "error", "error"), app="error")
    document["applications"]["hello"]["units"]["hello/0"]["observed"] = False
    verdict = _wait.judge(document)
    assert verdict.state == "pending"
    assert "awaiting its next report" in verdict.message


def test_judge_names_the_unit_in_error() -> None:
    verdict = _wait.judge(status(("hello/0", "error", "error"), app="error"))
    assert verdict.state == "error"
    assert "hello" in verdict.message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("app/0:logs/x", ("app/0", "logs/x")),
        ("ubuntu@my-app/12:/etc/hosts", ("my-app/12", "/etc/hosts")),
        ("3:file", ("3", "file")),
        ("./local:file", (None, "./local:file")),
        ("/tmp/a", (None, "/tmp/a")),
    ],
)
def test_scp_specs_name_a_unit_or_machine_or_a_local_path(
    spec: str, expected: tuple[str | None, str]
) -> None:
    assert _ssh.split_remote(spec) == expected


def test_ssh_hosts_come_from_the_machine_instance(tmp_path: Path) -> None:
    status = {
        "machines": {
            "0": {"instance-id": "local:uuid-1/0"},
            "1": {"instance-id": "rc-abc-1"},
            "2": {"instance-id": "ssh:root@10.0.0.5:22"},
            "3": {"instance-id": "pending"},
        },
        "applications": {"app": {"units": {"app/0": {"machine": "1"}}}},
    }
    assert _ssh.host_of(status, "0", tmp_path) == _ssh.Host(
        "local", str(tmp_path / "machines" / "uuid-1" / "0")
    )
    assert _ssh.host_of(status, "ubuntu@app/0", tmp_path) == _ssh.Host("lxd", "rc-abc-1")
    assert _ssh.host_of(status, "2", tmp_path).kind == "ssh"
    with pytest.raises(errors.TemporaryError, match="no instance yet"):
        _ssh.host_of(status, "3", tmp_path)
    with pytest.raises(errors.NotFoundError, match='unit "app/9" not found'):
        _ssh.host_of(status, "app/9", tmp_path)
    with pytest.raises(errors.NotFoundError, match='machine "7" not found'):
        _ssh.host_of(status, "7", tmp_path)
