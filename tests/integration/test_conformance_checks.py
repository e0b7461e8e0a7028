"""The conformance checks (`_conformance`) accept the contract's sequences and reject
near misses, so an e2e conformance test can only pass when the engine got it right."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration import _conformance as c

UNIT = "ops-provider/0"
BAG = {"private-address": "10.0.0.1", "ingress-address": "10.0.0.1"}


def _events(*specs: tuple[str, dict[str, Any]]) -> list[c.Event]:
    """(hook name, overrides) → recorded events of UNIT; relation hooks get relation env."""
    events = []
    for index, (name, extra) in enumerate(specs):
        env = {"JUJU_UNIT_NAME": UNIT}
        if "-relation-" in name:
            endpoint = name.rsplit("-relation-", 1)[0]
            env |= {
                "JUJU_RELATION": endpoint,
                "JUJU_RELATION_ID": f"{endpoint}:{extra.get('rid', 1)}",
                "JUJU_REMOTE_APP": extra.get("app", "ops-requirer"),
                "JUJU_REMOTE_UNIT": extra.get("remote", ""),
            }
            if name.endswith("-departed"):
                env["JUJU_DEPARTING_UNIT"] = extra.get("departing", extra.get("remote", ""))
        raw = {
            "unit": UNIT,
            "kind": "hooks",
            "name": name,
            "env": env,
            "leader": extra.get("leader", False),
            "count": index + 1,
            "view": extra.get("view"),
        }
        events.append(c.Event(raw, index))
    return events


def _seen(*units: str) -> dict[str, Any]:
    return {"app": {}, "units": {u: {**BAG, "unit-name": u} for u in units}}


LEADER_START = [
    ("install", {}),
    ("peers-relation-created", {"app": "ops-provider"}),
    ("leader-elected", {"leader": True}),
    ("config-changed", {}),
    ("start", {}),
]
FOLLOWER_START = [
    ("install", {}),
    ("source-relation-created", {}),
    ("peers-relation-created", {"app": "ops-provider"}),
    ("leader-settings-changed", {}),
    ("leader-settings-changed", {}),
    ("config-changed", {}),
    ("start", {}),
]


def test_new_unit_sequences_pass() -> None:
    c.check_new_unit(_events(*LEADER_START))
    c.check_new_unit(_events(*FOLLOWER_START), related=["source"])


@pytest.mark.parametrize(
    "specs",
    [
        LEADER_START[:1] + LEADER_START[2:],  # no peers-relation-created
        [*LEADER_START[:3], ("start", {}), ("config-changed", {})],  # start first
        [*LEADER_START[:2], ("leader-elected", {"leader": False}), *LEADER_START[3:]],
        [LEADER_START[1], LEADER_START[0], *LEADER_START[2:]],  # created before install
    ],
    ids=["no-created", "start-first", "elected-not-leader", "created-first"],
)
def test_new_unit_near_misses_fail(specs: list[tuple[str, dict[str, Any]]]) -> None:
    with pytest.raises(AssertionError):
        c.check_new_unit(_events(*specs))


def test_new_unit_with_a_missing_related_created_fails() -> None:
    with pytest.raises(AssertionError):
        c.check_new_unit(_events(*LEADER_START), related=["source"])


GOOD_RELATION = [
    ("source-relation-created", {}),
    ("source-relation-joined", {"remote": "ops-requirer/0", "view": _seen("ops-requirer/0")}),
    ("source-relation-changed", {"remote": "ops-requirer/0", "view": _seen("ops-requirer/0")}),
    ("source-relation-changed", {"view": _seen("ops-requirer/0")}),
    ("source-relation-departed", {"remote": "ops-requirer/0", "view": _seen()}),
    ("source-relation-broken", {}),
]


def test_relation_trace_replays_a_whole_relation() -> None:
    trace = c.only_trace(_events(*GOOD_RELATION), "source")
    assert trace.joined() == ["ops-requirer/0"]
    assert [e.index for e in trace.app_changes()] == [3]
    assert [e.remote_unit for e in trace.departed()] == ["ops-requirer/0"]
    assert trace.broken and not trace.members


@pytest.mark.parametrize(
    "specs",
    [
        GOOD_RELATION[1:],  # no -created
        [GOOD_RELATION[0], GOOD_RELATION[1], GOOD_RELATION[3]],  # joined, then app change
        [
            *GOOD_RELATION[:2],
            ("source-relation-changed", {"remote": "ops-requirer/0", "view": _seen()}),
        ],  # first -changed does not list the joined unit
        [GOOD_RELATION[0], GOOD_RELATION[5], GOOD_RELATION[1]],  # a hook after -broken
        [*GOOD_RELATION[:3], GOOD_RELATION[5]],  # broken before departed
        [
            *GOOD_RELATION[:3],
            (
                "source-relation-departed",
                {"remote": "ops-requirer/0", "departing": "ops-requirer/9"},
            ),
        ],  # JUJU_DEPARTING_UNIT names neither the remote unit nor this unit
        [GOOD_RELATION[0], ("source-relation-changed", {"remote": "ops-requirer/0"})],
    ],
    ids=[
        "no-created",
        "joined-without-changed",
        "changed-blind",
        "after-broken",
        "broken-early",
        "bad-departing",
        "changed-non-member",
    ],
)
def test_relation_trace_near_misses_fail(specs: list[tuple[str, dict[str, Any]]]) -> None:
    with pytest.raises(AssertionError):
        c.relation_traces(_events(*specs), "source")


def test_teardown_of_a_leaving_unit() -> None:
    leaving = {"departing": UNIT}
    good = [
        ("peers-relation-departed", {"remote": "ops-provider/1", "app": "ops-provider", **leaving}),
        ("peers-relation-broken", {"app": "ops-provider"}),
        ("source-relation-departed", {"remote": "ops-requirer/0", **leaving}),
        ("source-relation-broken", {}),
        ("stop", {}),
        ("remove", {}),
    ]
    remotes = {"peers": ["ops-provider/1"], "source": ["ops-requirer/0"]}
    c.check_teardown(_events(*good), unit=UNIT, remotes=remotes)
    for bad in (
        [*good[:3], good[4], good[3], good[5]],  # stop before the last -broken
        [*good[:2], *good[3:]],  # a remote unit never departed
        [good[0], *good[2:]],  # peers never broken
    ):
        with pytest.raises(AssertionError):
            c.check_teardown(_events(*bad), unit=UNIT, remotes=remotes)
