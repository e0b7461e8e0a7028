"""Subordinates end to end: a bash subordinate attached over `juju-info` to an ops
application gets one unit beside each principal unit (same machine, same machine agent),
with Juju's lifecycle, seeing only its own principal; it follows the principal through
add-unit and remove-unit, and goes with the relation. jubilant's `Status` reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jubilant
import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import Rune, writable_by_machines
from tests.integration.test_jubilant import juju_on_path  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PRINCIPAL = "principal"
SUB = "sub"


def _records(directory: Path, unit: str) -> list[dict[str, Any]]:
    path = directory / f"{unit.replace('/', '-')}.jsonl"
    assert path.exists(), f"{unit} recorded nothing"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _hooks(directory: Path, unit: str) -> list[str]:
    return [r["hook"] for r in _records(directory, unit)]


def _subordinates(status: jubilant.Status) -> dict[str, str]:
    """Subordinate unit → its principal unit, as jubilant reads status."""
    return {
        sub: principal
        for principal, unit in status.apps[PRINCIPAL].units.items()
        for sub in unit.subordinates
    }


def _check_beside(status: jubilant.Status, document: dict[str, Any], record: Path) -> None:
    """Every subordinate unit is active, on its principal's machine, and sees only it."""
    units = document["applications"][PRINCIPAL]["units"]
    for sub, principal in _subordinates(status).items():
        info = status.apps[PRINCIPAL].units[principal].subordinates[sub]
        assert info.workload_status.current == "active", (sub, info)
        assert info.workload_status.message == f"beside {principal}", (sub, info)
        machine = units[principal]["machine"]
        events = _records(record, sub)
        assert {e["machine"] for e in events} == {machine}, events
        assert {e["principal"] for e in events} == {principal}, events
        assert all(e["seen"] in ([], [principal]) for e in events), events
        joined = [e for e in events if e["hook"] == "juju-info-relation-joined"]
        assert [e["remote"] for e in joined] == [principal], events


def test_a_subordinate_follows_its_principal_units(
    rune: Rune,
    juju_on_path: Path,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    record = writable_by_machines(tmp_path / "records")
    rune("bootstrap")
    juju = jubilant.Juju()
    rune(
        "deploy",
        str(c.CHARMS / "ops-provider"),
        PRINCIPAL,
        "-n",
        "3",
        "--config",
        f"record-dir={record}",
    )

    # -- A subordinate takes no units and no placement; deployed, it has none.
    for args in (("-n", "2"), ("--to", "0")):
        refused = rune("deploy", str(c.CHARMS / "bash-subordinate"), SUB, *args, check=False)
        assert refused.returncode != 0, refused
        assert "cannot use --num-units or --to with subordinate application" in refused.stderr
    assert SUB not in rune.status()["applications"]
    rune("deploy", str(c.CHARMS / "bash-subordinate"), SUB, "--config", f"record-dir={record}")
    c.settle(rune)
    status = juju.status()
    assert status.apps[SUB].units == {} and _subordinates(status) == {}
    refused = rune("add-unit", SUB, check=False)
    assert refused.returncode != 0 and "subordinate application" in refused.stderr, refused
    assert _subordinates(juju.status()) == {}

    # -- Integrated over juju-info: one subordinate unit beside each principal unit.
    rune("integrate", SUB, PRINCIPAL)
    c.settle(rune)
    status = juju.status()
    assert status.apps[SUB].subordinate_to == [PRINCIPAL]
    assert status.apps[SUB].units == {}
    assert _subordinates(status) == {f"{SUB}/{n}": f"{PRINCIPAL}/{n}" for n in range(3)}
    assert sorted(status.get_units(SUB)) == [f"{SUB}/{n}" for n in range(3)]
    document = rune.status()
    assert "units" not in document["applications"][SUB]
    _check_beside(status, document, record)
    leader = next(u for u, s in status.get_units(SUB).items() if s.leader)
    for n in range(3):
        unit = f"{SUB}/{n}"
        hooks = _hooks(record, unit)
        # Juju 3.6's start: relations that exist at install are created before leadership.
        start = [
            "install",
            "juju-info-relation-created",
            "leader-elected",
            "config-changed",
            "start",
        ]
        if unit != leader:
            start[2] = "leader-settings-changed"  # a follower hears of its leader instead
        assert hooks[: len(start)] == start, (unit, hooks)
        assert hooks.index("juju-info-relation-joined") > hooks.index("start"), (unit, hooks)
    table = rune("status").stdout
    rows = [line.split() for line in table.splitlines()]
    names = [row[0].rstrip("*") for row in rows if row]
    for n in range(3):  # each subordinate listed right under its principal
        assert names[names.index(f"{PRINCIPAL}/{n}") + 1] == f"{SUB}/{n}", table

    # -- Scaling the principal to 4 adds a subordinate unit beside the new unit.
    rune("add-unit", PRINCIPAL)
    c.settle(rune)
    status = juju.status()
    assert _subordinates(status) == {f"{SUB}/{n}": f"{PRINCIPAL}/{n}" for n in range(4)}
    _check_beside(status, rune.status(), record)
    assert _hooks(record, f"{SUB}/3")[:5] == [
        "install",
        "juju-info-relation-created",
        "leader-settings-changed",
        "config-changed",
        "start",
    ]

    # -- Scaling it to 2 removes the subordinates of the removed units, with their hooks.
    refused = rune("remove-unit", f"{SUB}/0", check=False)
    assert refused.returncode != 0 and "is a subordinate" in refused.stderr, refused
    rune("remove-unit", f"{PRINCIPAL}/2", f"{PRINCIPAL}/3")
    c.settle(rune)
    status = juju.status()
    assert _subordinates(status) == {f"{SUB}/{n}": f"{PRINCIPAL}/{n}" for n in range(2)}
    for n in (2, 3):
        hooks = _hooks(record, f"{SUB}/{n}")
        tail = ["juju-info-relation-departed", "juju-info-relation-broken", "stop", "remove"]
        assert [h for h in hooks if h in tail] == tail, hooks
        departed = next(
            e for e in _records(record, f"{SUB}/{n}") if e["hook"] == "juju-info-relation-departed"
        )
        assert departed["remote"] == f"{PRINCIPAL}/{n}", departed

    # -- Removing the relation removes every subordinate unit; the application stays.
    rune("remove-relation", SUB, PRINCIPAL)
    c.settle(rune)
    status = juju.status()
    assert _subordinates(status) == {}
    assert status.apps[SUB].subordinate_to == []
    for n in range(2):
        hooks = _hooks(record, f"{SUB}/{n}")
        assert hooks[-2:] == ["stop", "remove"], hooks
        assert "juju-info-relation-broken" in hooks, hooks

    # -- Integrated again, numbering goes on; removing the subordinate application removes
    # its units (with their hooks) and then the application.
    rune("integrate", SUB, PRINCIPAL)
    c.settle(rune)
    status = juju.status()
    assert _subordinates(status) == {f"{SUB}/4": f"{PRINCIPAL}/0", f"{SUB}/5": f"{PRINCIPAL}/1"}
    _check_beside(status, rune.status(), record)
    rune("remove-application", SUB)
    c.settle(rune)
    status = juju.status()
    assert SUB not in status.apps and _subordinates(status) == {}
    for n in (4, 5):
        assert _hooks(record, f"{SUB}/{n}")[-2:] == ["stop", "remove"]
