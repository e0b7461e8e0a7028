"""The chaos suite's history checker (tests/chaos/history.py): clean histories pass, and a
history breaking each rule is caught under that rule."""

from __future__ import annotations

import pytest

from tests.chaos.history import check, parse

STARTED = "install leader-elected config-changed,t1 start"
JOINED = (
    f"{STARTED} source-relation-created,source:1 source-relation-joined,source:1,b/0 "
    "source-relation-changed,source:1,b/0,b/0 source-relation-changed,source:1,b,t1"
)


@pytest.mark.parametrize(
    "history",
    [
        "",
        STARTED,
        # relation-created may come before leadership and config (Juju: right after install)
        "install sink-relation-created,sink:1 leader-settings-changed,a/0 config-changed,t0 start",
        # a second config value, leadership moved and back, the same bag read again changed
        f"{JOINED} config-changed,t2 leader-elected leader-settings-changed,a/1 leader-elected "
        "source-relation-changed,source:1,b/0,",
        # a unit's removal: depart, break, stop, remove
        f"{JOINED} source-relation-departed,source:1,b/0 source-relation-broken,source:1 "
        "stop remove",
        # several relations and remote units, interleaved
        f"{STARTED} sink-relation-created,sink:2 sink-relation-joined,sink:2,c/1 "
        "source-relation-created,source:1 sink-relation-changed,sink:2,c/1,c/1 "
        "source-relation-joined,source:1,b/3 sink-relation-departed,sink:2,c/1 "
        "source-relation-changed,source:1,b/3,",
    ],
)
def test_a_history_in_juju_order_passes(history: str) -> None:
    assert check({"a/0": parse(history)}) == []


@pytest.mark.parametrize(
    ("history", "rule", "detail"),
    [
        (f"{STARTED} start", "exactly-once", "start committed again"),
        ("install install", "exactly-once", "install committed again"),
        (f"{STARTED} config-changed,t1", "exactly-once", "config-changed,t1 committed again"),
        (
            f"{JOINED} source-relation-joined,source:1,b/0",
            "exactly-once",
            "source-relation-joined,source:1,b/0 committed again",
        ),
        (f"{JOINED} source-relation-changed,source:1,b,t1", "exactly-once", "b,t1 committed"),
        ("config-changed,t1 install", "lifecycle", "config-changed,t1 before install"),
        ("install start", "lifecycle", "start before config-changed"),
        (
            "install config-changed,t1 source-relation-created,source:1 "
            "source-relation-joined,source:1,b/0",
            "lifecycle",
            "before start",
        ),
        (f"{STARTED} source-relation-joined,source:1,b/0", "relation", "before source:1 was"),
        (
            f"{STARTED} source-relation-created,source:1 source-relation-changed,source:1,b/0,",
            "relation",
            "changed before b/0 joined",
        ),
        (
            f"{STARTED} source-relation-created,source:1 source-relation-departed,source:1,b/0",
            "relation",
            "b/0 departed before it joined",
        ),
        (
            f"{JOINED} source-relation-departed,source:1,b/0 "
            "source-relation-changed,source:1,b/0,x",
            "relation",
            "changed after b/0 departed",
        ),
        (f"{JOINED} source-relation-broken,source:1", "relation", "before b/0 departed"),
        (
            f"{JOINED} source-relation-departed,source:1,b/0 source-relation-broken,source:1 "
            "source-relation-changed,source:1,b,t2",
            "relation",
            "after source:1 was broken",
        ),
        (f"{STARTED} stop config-changed,t2", "teardown", "config-changed,t2 after stop"),
        (f"{STARTED} stop remove leader-elected", "teardown", "leader-elected after remove"),
    ],
)
def test_a_history_breaking_a_rule_is_caught(history: str, rule: str, detail: str) -> None:
    found = check({"a/0": parse(history)})
    assert [v.rule for v in found] == [rule], found
    assert detail in str(found[0])
    assert found[0].unit == "a/0"
    assert found[0].index == len(history.split()) - 1 or rule == "lifecycle"


def test_each_unit_is_checked_on_its_own() -> None:
    found = check({"a/0": parse(STARTED), "b/1": parse("start"), "b/0": parse("install")})
    assert [(v.unit, v.rule) for v in found] == [
        ("b/1", "lifecycle"),
        ("b/1", "lifecycle"),
    ]
