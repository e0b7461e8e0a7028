"""The resolver's secret hooks: `secret-changed` for consumers, `secret-remove` for owners."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from runecraft.agents import _state_store, uniter
from runecraft.schemas import bus
from runecraft.schemas import secrets as sec

from .test_uniter import T0, remote, run, settled

SID = "d0cs0000000000000001"
OTHER = "d0cs0000000000000002"
NOW = T0 + 60.0
"""Before the settled unit's next update-status."""


def secret(secret_id: str = SID, **changes: Any) -> sec.SecretRemote:
    base: dict[str, Any] = {"id": secret_id, "owner": "application", "revision": 1}
    return sec.SecretRemote(**{**base, **changes})


def described(local: uniter.LocalState, target: bus.UnitRemoteState) -> list[str]:
    """What runs from `local` until rest, secret hooks as `hook:<id-tail>/<revision>`."""
    names = []
    for _ in range(20):
        local = uniter.observe(local, target)
        op = uniter.next_op(local, target, NOW)
        if not isinstance(op, uniter.Operation):
            return names
        names.append(
            f"{op.hook}:{op.secret_id[-1]}/{op.secret_revision}" if op.secret_id else op.label
        )
        local = uniter.commit(local, op, uniter.Outcome(succeeded=True, at=NOW))
    raise AssertionError(names)


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [
        pytest.param(
            (secret(tracked=1, revision=2),), ["secret-changed:1/2"], id="consumer-new-rev"
        ),
        pytest.param((secret(tracked=2, revision=2),), [], id="consumer-up-to-date"),
        pytest.param((secret(tracked=0, revision=3),), [], id="never-read-no-change"),
        pytest.param(
            (secret(owned=True, manage=True, tracked=2, revision=2),), [], id="owner-no-change"
        ),
        pytest.param(
            (secret(owned=True, manage=True, revision=3, obsolete=(1, 2)),),
            ["secret-remove:1/1", "secret-remove:1/2"],
            id="owner-obsolete-each-once",
        ),
        pytest.param(
            (secret(owned=True, manage=False, revision=3, obsolete=(1,)),),
            [],
            id="non-managing-owner-no-remove",
        ),
        pytest.param(
            (
                secret(OTHER, owned=True, manage=True, revision=2, obsolete=(1,)),
                secret(tracked=1, revision=4),
            ),
            ["secret-changed:1/4", "secret-remove:2/1"],
            id="changed-before-remove",
        ),
    ],
)
def test_secret_hooks(secrets: tuple[sec.SecretRemote, ...], expected: list[str]) -> None:
    local = settled(remote(leader=True))
    assert described(local, remote(leader=True, secrets=secrets)) == expected


def test_secret_changed_runs_again_for_each_newer_revision() -> None:
    local = settled(remote())
    local, ran, _ = run(local, remote(secrets=(secret(tracked=1, revision=2),)))
    assert ran == ["secret-changed"]
    assert local.secrets_seen == {SID: 2}
    # The charm did not refresh: nothing more until the owner publishes revision 3.
    local, ran, _ = run(local, remote(secrets=(secret(tracked=1, revision=2),)))
    assert ran == []
    local, ran, _ = run(local, remote(secrets=(secret(tracked=1, revision=3),)))
    assert ran == ["secret-changed"]


def test_secret_hooks_order_after_leadership_and_before_actions() -> None:
    local = settled(remote())
    target = remote(
        leader=True,
        secrets=(secret(tracked=1, revision=2),),
        actions=(bus.ActionRequest(id="1", name="backup"),),
    )
    _, ran, _ = run(local, target)
    assert ran == ["leader-elected", "secret-changed", "action:backup"]


def test_secret_hooks_wait_for_install() -> None:
    target = remote(secrets=(secret(tracked=1, revision=2),))
    _, ran, _ = run(uniter.LocalState(), target)
    assert ran[0] == "install"


def test_failed_secret_changed_runs_again() -> None:
    local = settled(remote())
    target = remote(secrets=(secret(tracked=1, revision=2),))
    local, ran, _ = run(local, target, fail={"secret-changed"}, max_steps=1, exact=True)
    assert ran == ["secret-changed"] and local.error is not None
    assert local.secrets_seen == {}


def test_operation_carries_the_secret_environment() -> None:
    local = settled(remote())
    op = uniter.next_op(
        local, remote(secrets=(secret(tracked=1, revision=2, label="db-pass"),)), 2e6
    )
    assert isinstance(op, uniter.Operation)
    assert (op.hook, op.secret_id, op.secret_label, op.secret_revision) == (
        "secret-changed",
        SID,
        "db-pass",
        2,
    )


def test_observe_forgets_gone_secrets_and_removed_revisions() -> None:
    local = dataclasses.replace(
        settled(remote()), secrets_seen={SID: 2, OTHER: 1}, secret_removes=(f"{SID}/1",)
    )
    after = uniter.observe(local, remote(secrets=(secret(tracked=2, revision=2),)))
    assert after.secrets_seen == {SID: 2}
    assert after.secret_removes == ()
    still = uniter.observe(
        local, remote(secrets=(secret(owned=True, manage=True, revision=2, obsolete=(1,)),))
    )
    assert still.secret_removes == (f"{SID}/1",)


def test_secret_state_survives_a_restart(tmp_path: Path) -> None:
    local = dataclasses.replace(
        settled(remote()), secrets_seen={SID: 3}, secret_removes=(f"{SID}/1",)
    )
    op = uniter.next_op(local, remote(secrets=(secret(OTHER, tracked=1, revision=2),)), 2e6)
    assert isinstance(op, uniter.Operation)
    local = uniter.record_step(local, op, uniter.Step.RUNNING)
    store = _state_store.StateStore(tmp_path / "state.json")
    store.save(_state_store.UnitRecord(local=local))
    assert store.load().local == local


def at(seconds: float) -> str:
    return sec.format_time(seconds)


def test_rotation_runs_once_per_scheduled_time_and_wakes_the_unit() -> None:
    local = settled(remote(leader=True))
    soon = secret(owned=True, manage=True, rotate="hourly", rotates=at(NOW + 30))
    decision = uniter.next_op(
        uniter.observe(local, remote(leader=True, secrets=(soon,))),
        remote(leader=True, secrets=(soon,)),
        NOW,
    )
    assert decision == uniter.Idle(wake_at=_whole(NOW + 30))
    due = secret(owned=True, manage=True, rotate="hourly", rotates=at(NOW - 1))
    target = remote(leader=True, secrets=(due,))
    assert described(local, target) == ["secret-rotate:1/1"]
    local, ran, _ = run(local, target, now=NOW)
    assert ran == ["secret-rotate"]
    # The controller moved the schedule: the next time runs again, once.
    moved = remote(
        leader=True, secrets=(secret(owned=True, manage=True, rotate="hourly", rotates=at(NOW)),)
    )
    local, ran, _ = run(local, moved, now=NOW + 5)
    assert ran == ["secret-rotate"]
    local, ran, _ = run(local, moved, now=NOW + 6)
    assert ran == []


def test_expiry_runs_once_per_revision_for_the_managing_unit_only() -> None:
    expired = secret(owned=True, manage=True, revision=2, expire=at(NOW - 10))
    local = settled(remote(leader=True))
    assert described(local, remote(leader=True, secrets=(expired,))) == ["secret-expired:1/2"]
    op = uniter.next_op(local, remote(leader=True, secrets=(expired,)), NOW)
    assert isinstance(op, uniter.Operation)
    assert (op.hook, op.secret_revision) == ("secret-expired", 2)
    follower = expired.model_copy(update={"manage": False})
    assert described(settled(remote()), remote(secrets=(follower,))) == []


def _whole(seconds: float) -> float:
    """RFC 3339 keeps whole seconds."""
    return float(int(seconds))
