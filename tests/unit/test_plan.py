"""Reconciler planning as pure functions: leadership, snapshots, config hashes, durations."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft.controller import services
from runecraft.controller.reconcilers import _plan
from runecraft.controller.state import UnitRecord
from runecraft.schemas.duration import parse_duration
from tests.unit import _records as records

NOW = 1000.0

APP = records.app("hello")


def unit(number: int, life: str = "alive", machine: int | None = None) -> UnitRecord:
    return records.unit(f"hello/{number}", life=life, machine_number=machine)


@pytest.mark.parametrize(
    ("leader", "expiry", "units", "expected"),
    [
        pytest.param(None, None, [unit(0), unit(1)], "hello/0", id="first-election-lowest"),
        pytest.param("hello/1", NOW + 10, [unit(0), unit(1)], None, id="valid-lease-kept"),
        pytest.param(
            "hello/0", NOW + 10, [unit(0, "dying"), unit(1)], "hello/1", id="dying-leader"
        ),
        pytest.param("hello/0", NOW + 10, [unit(1), unit(2)], "hello/1", id="removed-leader"),
        pytest.param("hello/0", NOW - 1, [unit(0), unit(1)], "hello/1", id="expired-lease-moves"),
        pytest.param("hello/0", NOW - 1, [unit(0)], "hello/0", id="expired-sole-unit-regranted"),
        pytest.param(None, None, [], None, id="no-units-no-leader"),
    ],
)
def test_plan_leaders(
    leader: str | None, expiry: float | None, units: list[UnitRecord], expected: str | None
) -> None:
    app = dataclasses.replace(APP, leader=leader, lease_expiry=expiry)
    changes = _plan.plan_leaders([app], units, NOW)
    if expected is None and (leader is None or (expiry is not None and expiry > NOW)):
        assert changes == []
    else:
        assert [c.leader for c in changes] == [expected]


@pytest.mark.parametrize(
    ("leader", "expiry", "units", "moved"),
    [
        pytest.param(None, None, [unit(0)], False, id="first-election"),
        pytest.param("hello/0", NOW + 10, [unit(0, "dying"), unit(1)], True, id="handed-over"),
        pytest.param("hello/0", NOW - 1, [unit(0)], False, id="regranted"),
        pytest.param("hello/0", NOW + 10, [], False, id="nobody-left"),
    ],
)
def test_leadership_moving_to_another_unit_is_flagged(
    leader: str | None, expiry: float | None, units: list[UnitRecord], moved: bool
) -> None:
    app = dataclasses.replace(APP, leader=leader, lease_expiry=expiry)
    (change,) = _plan.plan_leaders([app], units, NOW)
    assert change.moved is moved


LEASE = 30.0


@pytest.mark.parametrize(
    ("expiry", "since", "units", "expected"),
    [
        pytest.param(NOW - 100, None, [unit(0), unit(1)], None, id="bus-down-lease-runs-on"),
        pytest.param(NOW - 1, None, [unit(0)], None, id="bus-down-sole-unit-kept"),
        pytest.param(
            NOW - 100, NOW - 10, [unit(0), unit(1)], None, id="reconnected-full-lease-from-then"
        ),
        pytest.param(
            NOW - 100, NOW - LEASE, [unit(0), unit(1)], "hello/1", id="reconnected-lease-over"
        ),
        pytest.param(
            NOW + 5, NOW - LEASE, [unit(0), unit(1)], None, id="renewed-after-reconnect-kept"
        ),
        pytest.param(
            NOW - 1, -float("inf"), [unit(0), unit(1)], "hello/1", id="always-reachable-expires"
        ),
        pytest.param(NOW + 60, None, [unit(0, "dying"), unit(1)], "hello/1", id="bus-down-dying"),
        pytest.param(NOW + 60, None, [unit(1)], "hello/1", id="bus-down-removed-holder"),
    ],
)
def test_no_lease_runs_out_while_the_controller_cannot_reach_agents(
    expiry: float, since: float | None, units: list[UnitRecord], expected: str | None
) -> None:
    """The controller's bus being down is no fault of the leader: its lease runs on until a
    full lease after the bus is back; a holder that is gone is replaced all the same."""
    app = dataclasses.replace(APP, leader="hello/0", lease_expiry=expiry)
    reach = _plan.AgentReach(since=since, lease_seconds=LEASE)
    changes = _plan.plan_leaders([app], units, NOW, reach)
    assert [c.leader for c in changes] == ([] if expected is None else [expected])


@pytest.mark.parametrize(
    ("expiry", "since", "end"),
    [
        pytest.param(None, None, None, id="no-lease"),
        pytest.param(NOW, None, float("inf"), id="bus-down-never"),
        pytest.param(NOW, NOW - 40, NOW, id="stored-later"),
        pytest.param(NOW, NOW - 10, NOW - 10 + LEASE, id="reconnect-later"),
    ],
)
def test_lease_end(expiry: float | None, since: float | None, end: float | None) -> None:
    assert _plan.lease_end(expiry, _plan.AgentReach(since, LEASE)) == end


@pytest.mark.parametrize(
    ("bus_since", "stored_since", "since"),
    [
        pytest.param(-math.inf, -math.inf, -math.inf, id="never-down"),
        pytest.param(None, -math.inf, None, id="bus-down"),
        pytest.param(NOW - 40, None, None, id="database-down"),
        pytest.param(NOW - 40, NOW - 10, NOW - 10, id="stored-again-later"),
        pytest.param(NOW - 10, NOW - 40, NOW - 10, id="reconnected-later"),
    ],
)
def test_agents_are_heard_once_both_the_bus_and_the_message_worker_are_back(
    bus_since: float | None, stored_since: float | None, since: float | None
) -> None:
    """A heartbeat renews a lease only once it is stored: an outage of the database keeps
    leases from running out as one of the bus does."""
    assert _plan.AgentReach.of(bus_since, stored_since, LEASE) == _plan.AgentReach(since, LEASE)


def test_leader_is_cleared_when_all_units_are_gone() -> None:
    app = dataclasses.replace(APP, leader="hello/0", lease_expiry=NOW + 10)
    assert [c.leader for c in _plan.plan_leaders([app], [], NOW)] == [None]


@given(
    lives=st.lists(st.sampled_from(["alive", "dying"]), max_size=6),
    leader=st.one_of(st.none(), st.integers(0, 7)),
    expiry=st.one_of(st.none(), st.floats(0, 2 * NOW)),
)
def test_a_planned_leader_is_always_an_alive_unit(
    lives: list[str], leader: int | None, expiry: float | None
) -> None:
    units = [unit(i, life) for i, life in enumerate(lives)]
    app = dataclasses.replace(
        APP, leader=None if leader is None else f"hello/{leader}", lease_expiry=expiry
    )
    alive = {u.name for u in units if u.life == "alive"}
    for change in _plan.plan_leaders([app], units, NOW):
        assert (change.leader is None and not alive) or change.leader in alive


def test_machine_snapshots_carry_effective_config_and_leadership() -> None:
    model = records.model(revision=7, config={"update-status-hook-interval": "1m"})
    charm = records.charm(
        config={
            "options": {"greeting": {"type": "string", "default": "hi"}, "unset": {"type": "int"}}
        }
    )
    machine = records.machine(0)
    app = dataclasses.replace(APP, leader="hello/0", config={"greeting": "yo"})
    snapshots = _plan.machine_snapshots(
        model,
        [app],
        [unit(0, machine=0), unit(1, "dying", machine=0)],
        [machine],
        {charm.sha256: charm},
    )
    snapshot = snapshots[0]
    assert snapshot.revision == 7
    first, second = snapshot.units
    assert first.config == {"greeting": "yo"}
    assert first.leader and not second.leader
    assert second.life == "dying"
    assert first.update_status_interval == 60.0
    assert first.config_hash == _plan.config_hash(charm.sha256, {"greeting": "yo"})
    assert first.config_hash != _plan.config_hash(charm.sha256, {"greeting": "hi"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300.0),
        ("600s", 600.0),
        ("1h30m", 5400.0),
        ("0.001s", 0.001),
        ("250ms", 0.25),
        ("42", 42.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m", "5m3", "abc"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_charm_config_schema_is_parsed_once_per_content() -> None:
    """The schema cache is keyed by hash, and never serves a schema for other content."""
    plain = records.charm(config={})
    greeting = records.charm(config={"options": {"greeting": {"type": "string"}}})
    assert plain.sha256 == greeting.sha256  # test records reuse one hash
    assert services.charm_config(plain).options == {}
    assert set(services.charm_config(greeting).options) == {"greeting"}
    assert services.charm_config(greeting) is services.charm_config(greeting)
