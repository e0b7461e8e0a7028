"""Isolation on the local substrate with a root controller: each machine runs as a user of
its own, and a hook-tool context id works only for the hook it was given to.

Every attempt is made from a deployed unit (`rune exec`, which runs in hook context like a
hook) and asserts a clear error and that nothing changed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import RUNE, Rune

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="machines are isolated only under a root controller"
)

APP = c.PAIRS["bash"].provider
VICTIM = "victim"
"""A second application placed on the attacker's machine: the same user, its own unit."""
TIMEOUT = 300.0


def run_in(rune: Rune, unit: str, command: str) -> tuple[int, str, str]:
    """`rune exec` one shell line in `unit`'s hook context: its exit code, stdout, stderr."""
    result = rune("exec", "--format", "json", "--unit", unit, "--", command, check=False)
    assert result.stdout.strip(), result.stderr
    task: dict[str, Any] = json.loads(result.stdout)[unit]
    results = task["results"]
    return int(results["return-code"]), results.get("stdout", ""), results.get("stderr", "")


def unit_dir(rune: Rune, unit: str) -> Path:
    app, number = unit.split("/")
    found = list((rune.home / "machines").glob(f"*/*/units/{app}-{number}"))
    assert len(found) == 1, found
    return found[0]


def hook_environ(unit: str) -> tuple[int, dict[str, str]]:
    """The running hook of `unit` as root sees it: its pid and environment."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        env = dict(v.split("=", 1) for v in raw.decode(errors="replace").split("\0") if "=" in v)
        if env.get("JUJU_UNIT_NAME") == unit and "JUJU_CONTEXT_ID" in env:
            return int(entry.name), env
    raise AssertionError(f"no running hook of {unit}")


@contextmanager
def hook_held_open(rune: Rune, unit: str) -> Iterator[None]:
    """Run a hook-context command in `unit` that waits on a fifo until the block ends."""
    charm = unit_dir(rune, unit) / "charm"
    fifo = charm / "release.fifo"
    os.mkfifo(fifo, 0o600)
    owner = charm.stat()
    os.chown(fifo, owner.st_uid, owner.st_gid)
    env = {**os.environ, "RUNECRAFT_HOME": str(rune.home), "RUNECRAFT_CACHE_DIR": str(rune.cache)}
    waiting = subprocess.Popen(
        [*RUNE, "exec", "--unit", unit, "--", "read line < release.fifo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # Opening the write end returns once the hook opened the read end: it is running.
        writer = pool.submit(open, fifo, "w").result(timeout=TIMEOUT)
    try:
        yield
    finally:
        writer.write("done\n")
        writer.close()
        assert waiting.wait(timeout=TIMEOUT) == 0
        fifo.unlink()


@pytest.fixture
def machines(rune: Rune, tmp_path: Path) -> dict[str, int]:
    """Two units of APP on machines 0 and 1, and VICTIM/0 beside APP/0 on machine 0; each
    has `secret=kept` in its charm state. Returns each unit's machine."""
    rune("bootstrap")
    c.deploy(rune, APP, tmp_path / "events", units=2)
    c.settle(rune)
    rune("deploy", str(c.CHARMS / APP), VICTIM, "--to", "0")
    c.settle(rune)
    status = rune.status()
    placed = {
        unit: int(doc["machine"])
        for app in status["applications"].values()
        for unit, doc in app["units"].items()
    }
    assert placed == {f"{APP}/0": 0, f"{APP}/1": 1, f"{VICTIM}/0": 0}, placed
    for unit in placed:
        assert run_in(rune, unit, "state-set secret=kept")[0] == 0
    return placed


def state_of(rune: Rune, unit: str) -> dict[str, str]:
    code, out, err = run_in(rune, unit, "state-get --format=json")
    assert (code, err) == (0, ""), err
    state: dict[str, str] = json.loads(out)
    return state


def test_isolation_local_machines_run_as_their_own_users(
    rune: Rune, machines: dict[str, int]
) -> None:
    attacker, other = f"{APP}/0", f"{APP}/1"
    uids = {}
    for unit in (attacker, other):
        code, out, err = run_in(rune, unit, "id -u; id -G")
        assert code == 0, err
        uid, groups = out.split("\n", 1)
        uids[unit] = int(uid)
        assert int(uid) != 0
        assert groups.split() == [str(unit_dir(rune, unit).stat().st_gid)]  # no root group
        machine_dir = unit_dir(rune, unit).parents[1]
        info = machine_dir.stat()
        assert (info.st_uid, oct(info.st_mode & 0o777)) == (int(uid), "0o700")
    assert uids[attacker] != uids[other]
    status = rune.status()
    for machine in status["machines"].values():
        assert "message" not in machine["machine-status"]  # isolated: nothing to warn of


def test_isolation_local_a_unit_cannot_read_the_controller_or_other_machines(
    rune: Rune, machines: dict[str, int]
) -> None:
    attacker, other = f"{APP}/0", f"{APP}/1"
    controller = rune.home / "controller"
    other_machine = unit_dir(rune, other).parents[1]
    targets = {
        "cat": [
            controller / "controller.yaml",
            controller / "state.db",
            rune.home / "client.yaml",
            unit_dir(rune, other) / "state.json",
        ],
        "ls": [other_machine, other_machine.parent, rune.home],
    }
    kept = (controller / "controller.yaml", rune.home / "client.yaml")
    before = {path: path.read_bytes() for path in kept}
    for command, paths in targets.items():
        for path in paths:
            code, out, err = run_in(rune, attacker, f"{command} {path}")
            assert code != 0 and out == "", (command, path, out)
            assert "Permission denied" in err, (command, path, err)
    assert {path: path.read_bytes() for path in before} == before
    assert state_of(rune, other)["secret"] == "kept"


def test_isolation_local_a_context_id_taken_from_a_hook_on_the_same_machine_is_refused(
    rune: Rune, machines: dict[str, int]
) -> None:
    """Hooks of one machine run one at a time, so the thief is a process an earlier hook of
    the attacker left behind: it runs as the same user as the victim's hook, reads the
    victim's context id and socket from its environment, and calls `state-set` with them."""
    attacker, victim = f"{APP}/0", f"{VICTIM}/0"
    charm = unit_dir(rune, attacker) / "charm"
    report = charm / "report.fifo"
    os.mkfifo(report, 0o600)
    owner = charm.stat()
    os.chown(report, owner.st_uid, owner.st_gid)
    thief = (
        "n=0; while [ $n -lt 6000 ]; do n=$((n+1)); "
        "for p in /proc/[0-9]*; do "
        'env=$(tr "\\0" "\\n" < $p/environ 2>/dev/null) || continue; '
        f'echo "$env" | grep -qx "JUJU_UNIT_NAME={victim}" || continue; '
        'id=$(echo "$env" | sed -n "s/^JUJU_CONTEXT_ID=//p"); '
        'sock=$(echo "$env" | sed -n "s/^JUJU_AGENT_SOCKET_ADDRESS=//p"); '
        '[ -n "$id" ] && break 2; '
        "done; sleep 0.05; done; "  # the thief's own patience, not the test's
        '{ echo "stole $id"; '
        "JUJU_CONTEXT_ID=$id JUJU_AGENT_SOCKET_ADDRESS=$sock state-set secret=stolen 2>&1; "
        'echo "exit $?"; } > report.fifo'
    )
    code, _, err = run_in(rune, attacker, f"setsid sh -c '{thief}' </dev/null >/dev/null 2>&1 &")
    assert code == 0, err
    with hook_held_open(rune, victim):
        _, victim_env = hook_environ(victim)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            said = pool.submit(report.read_text).result(timeout=TIMEOUT)
    # The thief did read the id: the socket's peer check is what refused it.
    lines = said.splitlines()
    assert lines[0] == f"stole {victim_env['JUJU_CONTEXT_ID']}", said
    assert lines[1].startswith(
        f'ERROR permission denied: caller is not the running hook of unit "{victim}"'
    ), said
    assert lines[-1] == "exit 1", said
    assert state_of(rune, victim)["secret"] == "kept"
    assert state_of(rune, attacker)["secret"] == "kept"


def test_isolation_local_a_hook_on_another_machine_is_out_of_reach(
    rune: Rune, machines: dict[str, int]
) -> None:
    attacker, victim = f"{APP}/0", f"{APP}/1"
    with hook_held_open(rune, victim):
        pid, env = hook_environ(victim)
        stolen, socket = env["JUJU_CONTEXT_ID"], env["JUJU_AGENT_SOCKET_ADDRESS"]
        code, out, err = run_in(rune, attacker, f"cat /proc/{pid}/environ")
        assert (code, out) == (1, "") and "Permission denied" in err, err
        # Given the id anyway: the victim's socket is not reachable for another user...
        code, out, err = run_in(
            rune,
            attacker,
            f"JUJU_CONTEXT_ID={stolen} JUJU_AGENT_SOCKET_ADDRESS={socket} state-set secret=stolen",
        )
        assert code != 0 and out == "", out
        assert err.startswith("ERROR") and "ermission denied" in err, err
        # ...and the attacker's own unit's socket does not know the id.
        code, out, err = run_in(rune, attacker, f"JUJU_CONTEXT_ID={stolen} state-set secret=stolen")
        assert (code, out, err) == (1, "", f'ERROR bad context id "{stolen}"\n')
    assert state_of(rune, victim)["secret"] == "kept"
    assert state_of(rune, attacker)["secret"] == "kept"
