"""Relation `-changed` hooks coalesce by settings version, as in Juju: whatever number of
versions of a remote unit's (or application's) settings the unit saw before the hook runs,
one `-changed` runs, with the newest version; versions arriving while a hook runs give one
more `-changed` after it."""

from __future__ import annotations

from typing import Any

import pytest

from runecraft.agents import uniter
from runecraft.schemas import bus

T0 = 1_000_000.0


def remote(units: dict[str, int], app_version: int = 0) -> bus.UnitRemoteState:
    relation = bus.RelationRemote(
        id=1,
        endpoint="db",
        interface="db",
        role="requirer",
        remote_application="mysql",
        units=units,
        app_version=app_version,
    )
    return bus.UnitRemoteState(
        unit="app/0",
        application="app",
        charm=bus.CharmRef(sha256="c1", name="app"),
        config_hash="h1",
        relations=(relation,),
    )


def settle(local: uniter.LocalState, seen: list[bus.UnitRemoteState]) -> list[str]:
    """Feed the agent loop the snapshots `seen` (newest last, as `UnitAgent.update` keeps
    only the newest) and run its hooks to rest; returns them as `hook:remote@version`."""
    return drive(local, seen)[1]


def drive(
    local: uniter.LocalState, seen: list[bus.UnitRemoteState], steps: int = 60
) -> tuple[uniter.LocalState, list[str]]:
    wanted = seen[-1]  # the loop reads the newest snapshot when it looks
    ran: list[str] = []
    now = T0
    for _ in range(steps):
        local = uniter.observe(local, wanted)
        op = uniter.next_op(local, wanted, now)
        if not isinstance(op, uniter.Operation):
            return local, ran
        ran.append(f"{op.hook}:{op.remote_unit or op.remote_app}@{op.change_version}")
        local = uniter.record_step(local, op, uniter.Step.QUEUED)
        local = uniter.record_step(local, op, uniter.Step.RUNNING)
        local = uniter.commit(local, op, uniter.Outcome(succeeded=True, at=now))
        now += 1.0
    return local, ran


def base(units: dict[str, int], app_version: int = 0) -> uniter.LocalState:
    """A unit settled on the relation with `units` at their versions."""
    local, _ = drive(uniter.LocalState(), [remote({})])
    local, _ = drive(local, [remote(units, app_version)])
    return local


CASES: list[Any] = [
    pytest.param(
        {"mysql/0": 1},
        [{"mysql/0": 2}, {"mysql/0": 3}, {"mysql/0": 4}],
        ["db-relation-changed:mysql/0@4"],
        id="three-versions-one-changed",
    ),
    pytest.param(
        {"mysql/0": 1, "mysql/1": 1},
        [{"mysql/0": 2, "mysql/1": 1}, {"mysql/0": 3, "mysql/1": 2}, {"mysql/0": 5, "mysql/1": 4}],
        ["db-relation-changed:mysql/0@5", "db-relation-changed:mysql/1@4"],
        id="two-units-one-changed-each",
    ),
    pytest.param(
        {},
        [{"mysql/0": 1}, {"mysql/0": 2}, {"mysql/0": 3}],
        ["db-relation-joined:mysql/0@3", "db-relation-changed:mysql/0@3"],
        id="joined-then-one-changed-with-the-newest",
    ),
    pytest.param(
        {"mysql/0": 1},
        [{"mysql/0": 1}],
        [],
        id="same-version-no-hook",
    ),
]


@pytest.mark.parametrize(("start", "versions", "expected"), CASES)
def test_changed_coalesces_versions_seen_before_it_runs(
    start: dict[str, int], versions: list[dict[str, int]], expected: list[str]
) -> None:
    local = base(start)
    assert settle(local, [remote(units) for units in versions]) == expected


def test_app_settings_versions_coalesce() -> None:
    local = base({"mysql/0": 1})
    seen = [remote({"mysql/0": 1}, app_version=v) for v in (1, 2, 3)]
    assert settle(local, seen) == ["db-relation-changed:mysql@3"]


def test_versions_arriving_during_a_hook_give_one_more_changed() -> None:
    """The hook for version 2 started; 3 and 4 arrived while it ran: one more, for 4."""
    local = base({"mysql/0": 1})
    wanted = remote({"mysql/0": 2})
    op = uniter.next_op(uniter.observe(local, wanted), wanted, T0)
    assert isinstance(op, uniter.Operation) and op.change_version == 2
    local = uniter.record_step(local, op, uniter.Step.QUEUED)
    local = uniter.record_step(local, op, uniter.Step.RUNNING)
    local = uniter.commit(local, op, uniter.Outcome(succeeded=True, at=T0))
    assert settle(local, [remote({"mysql/0": 3}), remote({"mysql/0": 4})]) == [
        "db-relation-changed:mysql/0@4"
    ]
