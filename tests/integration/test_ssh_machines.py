"""The manual substrate end to end: real sshd hosts in network namespaces, the real CLI and
controller, and machine agents installed over SSH.

One controller serves the whole story (the machine has two cores): every way enlisting can
fail is tried first, each must leave nothing behind and succeed when simply run again; then
two enlisted hosts run charms, integrate, and one is removed cleanly.
"""

from __future__ import annotations

import json
import os
import re
import signal
from typing import Any

import pytest

from tests.integration._sshhosts import SshHost, SshLab, ssh_lab
from tests.integration.conftest import EXAMPLES, REPO, Rune

__all__ = ["ssh_lab"]

pytestmark = pytest.mark.e2e

CHARMS = REPO / "tests" / "charms"


def _machines(rune: Rune) -> dict[str, Any]:
    machines: dict[str, Any] = rune.status()["machines"]
    return machines


def _enlist(rune: Rune, host: SshHost, *args: str, check: bool = True) -> Any:
    return rune(
        "add-machine", host.target, "--install-dir", str(host.install_dir), *args, check=check
    )


def _created(result: Any) -> str:
    found = re.search(r"created machine (\d+)", result.stderr)
    assert found, result.stderr
    return found.group(1)


def _refused(result: Any, *needles: str) -> None:
    assert result.returncode == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_enlist_deploy_integrate_and_remove(rune: Rune, ssh_lab: SshLab) -> None:
    good = ssh_lab.add_host()
    no_python = ssh_lab.add_host(python=False)
    flaky = ssh_lab.add_host(drop_on_venv=True)
    key = ("--private-key", str(ssh_lab.client_key))
    rune("bootstrap", "--listen-address", ssh_lab.gateway)
    rune("add-model", "lab", "manual")

    # Each failure is clear, registers nothing and leaves no files on the host.
    unreachable = rune(
        "add-machine", f"ssh:root@{good.address}:2222", *key, "--trust-on-first-use", check=False
    )
    _refused(unreachable, f"cannot reach root@{good.address}:2222")
    unknown = _enlist(rune, good, *key, check=False)
    _refused(unknown, "is not known", good.fingerprint, "--trust-on-first-use")
    wrong = ("--private-key", str(ssh_lab.wrong_key))
    _refused(_enlist(rune, good, *wrong, "--host-key", good.fingerprint, check=False), "refused")
    other = "SHA256:" + "A" * 43
    _refused(_enlist(rune, good, *key, "--host-key", other, check=False), good.fingerprint)
    _refused(_enlist(rune, no_python, *key, "--trust-on-first-use", check=False), "has no python3")
    _refused(
        _enlist(rune, flaky, *key, "--trust-on-first-use", check=False),
        "lost the connection",
        "was not added",
    )
    assert _machines(rune) == {}
    for host in (good, no_python, flaky):
        assert not host.install_dir.exists()

    # Run again, each succeeds (the flaky host's key was stored on first use).
    first = _created(_enlist(rune, flaky, *key))
    second = _created(_enlist(rune, good, *key, "--host-key", good.fingerprint))
    again = _enlist(rune, good, *key, check=False)
    _refused(again, f"is already machine {second}")
    machines = _machines(rune)
    assert sorted(machines) == sorted([first, second])
    assert machines[second]["dns-name"] == good.address

    # Units: without placement a free enlisted machine; with --to the one named.
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("deploy", str(CHARMS / "bash-provider"), "--to", second)
    full = rune("deploy", str(CHARMS / "bash-requirer"), check=False)
    _refused(full, "no free machine")
    rune("deploy", str(CHARMS / "bash-requirer"), "--to", first)
    rune("deploy", str(EXAMPLES / "hello"), "--to", second)
    rune("integrate", "bash-provider:source", "bash-requirer:sink")
    rune("wait", "--timeout", "5m")
    status = rune.status()
    placed = {
        unit: doc["machine"]
        for app in status["applications"].values()
        for unit, doc in app["units"].items()
    }
    assert placed == {
        "hello-bash/0": first,
        "bash-provider/0": second,
        "bash-requirer/0": first,
        "hello/0": second,
    }
    for app in status["applications"].values():
        for doc in app["units"].values():
            assert doc["workload-status"]["current"] == "active", doc
    assert status["applications"]["bash-requirer"]["units"]["bash-requirer/0"]["workload-status"][
        "message"
    ].startswith("saw token=")
    assert len(good.pids()) > 1  # the agent runs inside the host's network namespace

    # The agent is supervised: stopped, it comes back and converges on the next change.
    (pid_file,) = flaky.install_dir.glob("*/agent.pid")
    agent = int(pid_file.read_text())
    os.kill(agent, signal.SIGTERM)
    rune("config", "hello-bash", "message=back again")
    rune("wait", "--timeout", "5m")
    unit = rune.status()["applications"]["hello-bash"]["units"]["hello-bash/0"]
    assert unit["workload-status"]["message"] == "back again"
    assert int(pid_file.read_text()) != agent

    # A controller killed outright finds its enlisted agents again (over SSH) and leaves them be.
    agent = int(pid_file.read_text())
    os.kill(int((rune.home / "controller" / "controller.pid").read_text()), signal.SIGKILL)
    rune("start-controller")
    rune("wait", "--timeout", "5m")
    assert int(pid_file.read_text()) == agent

    # Removal: refused while units are there; with --force the units go, then the agent
    # and every file Runecraft put on the host.
    _refused(rune("remove-machine", second, check=False), "bash-provider/0", "--force")
    rune("remove-machine", second, "--force")
    assert sorted(_machines(rune)) == [first]
    assert not good.install_dir.exists()
    sshd = int((good.directory / "sshd.pid").read_text())
    assert good.pids() == [sshd]
    assert flaky.install_dir.exists()
    listing = rune("machines", "--format", "json").stdout
    assert sorted(json.loads(listing)["machines"]) == [first]

    # A local model takes enlisted machines too (its host key is known by now).
    local = _created(_enlist(rune, good, *key, "-m", "default"))
    rune("-m", "default", "deploy", str(EXAMPLES / "hello-bash"), "--to", local)
    rune("-m", "default", "wait", "--timeout", "5m")
    status = rune.status("-m", "default")
    assert status["machines"][local]["dns-name"] == good.address
    unit = status["applications"]["hello-bash"]["units"]["hello-bash/0"]
    assert unit["workload-status"]["current"] == "active"

    # Killing the controller releases every enlisted machine it still has.
    rune("kill-controller", "runecraft", "--no-prompt")
    for host in (good, flaky):
        assert not host.install_dir.exists()
        assert host.pids() == [int((host.directory / "sshd.pid").read_text())]
