"""The plan layer of the Pebble agent: start and stop order, by table (Pebble's own cases)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import pytest

from runecraft.agents.pebble import _plan


@contextlib.contextmanager
def plan_error(message: str) -> Iterator[None]:
    """The block raises `PlanError` with exactly `message` (Pebble's text)."""
    with pytest.raises(_plan.PlanError) as caught:
        yield
    assert str(caught.value) == message


def flat(lanes: list[list[str]]) -> list[str]:
    return list(itertools.chain.from_iterable(lanes))


def services_plan(**services: dict[str, list[str]]) -> _plan.Plan:
    """A plan of services given as `name={"after": [...], "requires": [...]}`."""
    made = {
        name: _plan.Service(
            name=name,
            override="replace",
            command="cmd",
            **{key: tuple(value) for key, value in fields.items()},
        )
        for name, fields in services.items()
    }
    return _plan.Plan(services=made)


# Pebble's "relatively simple layer with override on top", combined.
COMBINED = services_plan(
    srv1={"after": ["srv2", "srv4"], "before": ["srv3", "srv5"], "requires": ["srv2", "srv3"]},
    srv2={},
    srv3={},
    srv4={},
    srv5={},
    srv6={},
)


@pytest.mark.parametrize(
    ("names", "start", "stop"),
    [
        (["srv1"], [["srv2", "srv1", "srv3"]], [["srv1"]]),
        (["srv2"], [["srv2"]], [["srv1", "srv2"]]),
        (["srv3"], [["srv3"]], [["srv3", "srv1"]]),
        (["srv6"], [["srv6"]], [["srv6"]]),
    ],
)
def test_start_pulls_in_requirements_and_stop_pulls_in_dependents(
    names: list[str], start: list[list[str]], stop: list[list[str]]
) -> None:
    assert _plan.start_lanes(COMBINED, names) == start
    assert _plan.stop_lanes(COMBINED, names) == stop


def test_a_requirement_chain_is_one_lane_reversed_to_stop() -> None:
    plan = services_plan(
        srv1={"requires": ["srv2"], "before": ["srv2"]},
        srv2={"requires": ["srv3"], "before": ["srv3"]},
        srv3={},
    )
    assert _plan.start_lanes(plan, ["srv1", "srv2", "srv3"]) == [["srv1", "srv2", "srv3"]]
    assert _plan.stop_lanes(plan, ["srv1", "srv2", "srv3"]) == [["srv3", "srv2", "srv1"]]


def test_unrelated_services_get_lanes_of_their_own() -> None:
    plan = services_plan(srv1={}, srv2={}, srv3={}, srv4={"requires": ["srv1"], "after": ["srv1"]})
    names = ["srv1", "srv2", "srv3", "srv4"]
    assert _plan.start_lanes(plan, names) == [["srv1", "srv4"], ["srv2"], ["srv3"]]
    assert _plan.stop_lanes(plan, names) == [["srv4", "srv1"], ["srv2"], ["srv3"]]


def test_order_follows_after_and_before_without_requires() -> None:
    plan = services_plan(a={"after": ["b"]}, b={"after": ["c"]}, c={}, d={"before": ["c"]})
    assert _plan.start_lanes(plan, ["a", "b", "c", "d"]) == [["d"], ["c"], ["b"], ["a"]]
    assert _plan.stop_lanes(plan, ["a", "b", "c", "d"]) == [["a"], ["b"], ["c"], ["d"]]


def test_stopping_a_service_stops_what_requires_it_transitively() -> None:
    plan = services_plan(db={}, app={"requires": ["db"]}, web={"requires": ["app"]}, other={})
    assert sorted(flat(_plan.stop_lanes(plan, ["db"]))) == ["app", "db", "web"]
    assert flat(_plan.start_lanes(plan, ["web"])) == ["app", "db", "web"]


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (
            {"srv1": {"after": ["srv2"]}, "srv2": {"after": ["srv3"]}, "srv3": {"after": ["srv1"]}},
            "services in before/after loop: srv1, srv2, srv3",
        ),
        (
            {"b": {"before": ["a"]}, "a": {"before": ["b"]}, "c": {}},
            "services in before/after loop: a, b",
        ),
    ],
)
def test_a_before_after_loop_is_an_error(
    services: dict[str, dict[str, list[str]]], message: str
) -> None:
    plan = services_plan(**services)
    with plan_error(message):
        _plan.start_lanes(plan, list(services))
    with plan_error(message):
        _plan.stop_lanes(plan, list(services))


def test_an_unknown_service_is_an_error() -> None:
    plan = services_plan(a={"requires": ["ghost"]})
    with plan_error('service "nope" does not exist'):
        _plan.start_lanes(plan, ["nope"])
    with plan_error('service "ghost" does not exist'):
        _plan.start_lanes(plan, ["a"])
    with plan_error('service "nope" does not exist'):
        _plan.stop_lanes(plan, ["nope"])
