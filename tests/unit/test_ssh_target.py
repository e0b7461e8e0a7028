"""The pure parts of the manual substrate: targets, python versions, agent scripts."""

from __future__ import annotations

import subprocess

import pytest

from runecraft import errors
from runecraft.controller.providers.ssh import SshTarget, parse_target
from runecraft.controller.providers.ssh._scripts import (
    parse_python_version,
    remove_script,
    running_script,
    start_script,
    supervisor_script,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssh:10.0.0.5", SshTarget("root", "10.0.0.5", 22)),
        ("ssh:ubuntu@10.0.0.5", SshTarget("ubuntu", "10.0.0.5", 22)),
        ("ssh:ubuntu@host.example.com:2222", SshTarget("ubuntu", "host.example.com", 2222)),
        ("ssh:[fd00::5]:2200", SshTarget("root", "fd00::5", 2200)),
        ("ssh:admin@[fd00::5]", SshTarget("admin", "fd00::5", 22)),
        ("ssh:fd00::5", SshTarget("root", "fd00::5", 22)),
    ],
)
def test_targets_parse(text: str, expected: SshTarget) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.5", "expected ssh:[user@]host[:port]"),
        ("lxd:foo", "expected ssh:"),
        ("ssh:", "bad host"),
        ("ssh:root@", "bad host"),
        ("ssh:bad user@host", "bad user name"),
        ("ssh:host:0", "port must be"),
        ("ssh:host:70000", "port must be"),
        ("ssh:host:", "port must be"),
        ("ssh:host:ssh", "port must be"),
        ("ssh:[fd00::5", "unclosed"),
        ("ssh:[nothex]:22", "bad IPv6 address"),
        ("ssh:host name", "bad host"),
    ],
)
def test_bad_targets_are_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match="invalid machine") as caught:
        parse_target(text)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("target", "text", "known_hosts"),
    [
        (SshTarget("root", "10.0.0.5", 22), "root@10.0.0.5:22", "10.0.0.5"),
        (SshTarget("me", "h", 2222), "me@h:2222", "[h]:2222"),
        (SshTarget("root", "fd00::5", 22), "root@[fd00::5]:22", "fd00::5"),
    ],
)
def test_targets_print(target: SshTarget, text: str, known_hosts: str) -> None:
    assert str(target) == text
    assert target.known_hosts_name == known_hosts


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("3.11\n", (3, 11)),
        ("motd line\n3.12\n", (3, 12)),
        ("missing\n", None),
        ("", None),
        ("3.x", None),
    ],
)
def test_python_version_output(output: str, version: tuple[int, int] | None) -> None:
    assert parse_python_version(output) == version


@pytest.mark.parametrize(
    "script",
    [
        supervisor_script("/srv/rc dir/m-0", ["/srv/rc dir/m-0/venv/bin/python", "-m", "x"]),
        start_script("/srv/rc dir/m-0", "runecraft-machine-0", ["/bin/true"], "agent"),
        running_script("/srv/rc dir/m-0", "runecraft-machine-0"),
        remove_script("/srv/rc dir/m-0", "runecraft-machine-0", "/srv/rc dir"),
    ],
)
def test_scripts_are_valid_sh(script: str) -> None:
    checked = subprocess.run(
        ["sh", "-n"], input=script, text=True, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert "'/srv/rc dir/m-0'" in script
