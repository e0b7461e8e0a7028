"""Storage: `--storage` directives against the charm, and the uniter's storage hooks."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from runecraft import errors
from runecraft.agents import uniter
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import storage as st
from tests.unit.test_uniter import peer, remote, run, settled


def spec(**fields: Any) -> charm_schema.StorageSpec:
    return charm_schema.StorageSpec.model_validate({"type": "filesystem", **fields})


DECLARED = {
    "data": spec(location="/srv/data", **{"minimum-size": "2G"}),
    "logs": spec(multiple={"range": "0-3"}),
    "cache": spec(multiple={"range": "1-"}),
}


@pytest.mark.parametrize(
    ("text", "name", "directive"),
    [
        ("data=10G,2", "data", st.StorageDirective(size_mib=10240, count=2)),
        ("data=2", "data", st.StorageDirective(count=2)),
        ("data=512M", "data", st.StorageDirective(size_mib=512)),
        (
            "data=rootfs,1.5GiB,3",
            "data",
            st.StorageDirective(pool="rootfs", size_mib=1536, count=3),
        ),
        ("data=3,rootfs", "data", st.StorageDirective(pool="rootfs", count=3)),
    ],
)
def test_parse_directive(text: str, name: str, directive: st.StorageDirective) -> None:
    assert st.parse_directive(text) == (name, directive)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("data", "NAME="),
        ("=1", "NAME="),
        ("data=", "NAME="),
        ("data=1,2", "count given twice"),
        ("data=1G,2G", "size given twice"),
        ("data=10X", "10X"),
        ("data=a,b", '"b"'),
    ],
)
def test_bad_directive_is_named(text: str, named: str) -> None:
    with pytest.raises(errors.RunecraftError, match=named):
        st.parse_directive(text)


def test_name_given_twice_is_refused() -> None:
    with pytest.raises(errors.UsageError, match='"data" specified more than once'):
        st.parse_directives(["data=1", "data=2"])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"data": (1, 2048), "logs": (0, 1024), "cache": (1, 1024)}),
        (
            {
                "logs": st.StorageDirective(count=3, size_mib=100),
                "cache": st.StorageDirective(count=7),
            },
            {"data": (1, 2048), "logs": (3, 100), "cache": (7, 1024)},
        ),
        (
            {"data": st.StorageDirective(size_mib=4096)},
            {"data": (1, 4096), "logs": (0, 1024), "cache": (1, 1024)},
        ),
    ],
)
def test_allocation(
    given: dict[str, st.StorageDirective], expected: dict[str, tuple[int, int]]
) -> None:
    assert st.allocation(DECLARED, given) == expected


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"nope": st.StorageDirective(count=1)}, 'no storage "nope"'),
        ({"data": st.StorageDirective(count=2)}, "outside the charm's range 1"),
        ({"logs": st.StorageDirective(count=4)}, "range 0-3"),
        ({"cache": st.StorageDirective(count=0)}, "range 1-"),
        ({"data": st.StorageDirective(size_mib=100)}, "minimum-size 2048M"),
    ],
)
def test_allocation_refuses(given: dict[str, st.StorageDirective], named: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match=named):
        st.allocation(DECLARED, given)


def test_block_storage_is_refused_when_used() -> None:
    declared = {"disk": spec(type="block", multiple={"range": "0-1"})}
    assert st.allocation(declared, {}) == {"disk": (0, 1024)}
    with pytest.raises(errors.InvalidSpecError, match="block storage is not supported"):
        st.allocation(declared, {"disk": st.StorageDirective(count=1)})


@pytest.mark.parametrize(
    ("name", "have", "more", "ok"),
    [
        ("logs", 1, 2, True),
        ("logs", 2, 2, False),
        ("cache", 50, 50, True),
        ("data", 1, 1, False),
        ("x", 0, 1, False),
    ],
)
def test_check_add(name: str, have: int, more: int, ok: bool) -> None:
    if ok:
        st.check_add(DECLARED, name, have, more)
    else:
        with pytest.raises(errors.InvalidSpecError):
            st.check_add(DECLARED, name, have, more)


# --- the uniter (charm-contract §3.2, §3.3) ----------------------------------------------

DATA = (st.StorageRemote(id="data/0"), st.StorageRemote(id="logs/3"))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(
            remote(leader=True, storage=DATA),
            [
                "data-storage-attached",
                "logs-storage-attached",
                "install",
                "leader-elected",
                "config-changed",
                "start",
            ],
            id="new-unit-attaches-before-install",
        ),
        pytest.param(
            remote(storage=DATA[:1], relations=(peer(units={"app/1": 1}),)),
            [
                "data-storage-attached",
                "install",
                "cluster-relation-created",
                "leader-settings-changed",
                "config-changed",
                "start",
                "cluster-relation-joined:app/1",
                "cluster-relation-changed:app/1",
            ],
            id="with-peers",
        ),
    ],
)
def test_storage_attached_runs_before_install(target: Any, expected: list[str]) -> None:
    local, ran, rest = run(uniter.LocalState(), target)
    assert ran == expected
    assert isinstance(rest, uniter.Idle)
    assert set(local.storage_attached) == {s.id for s in target.storage}


def test_storage_hooks_carry_their_storage_id() -> None:
    op = uniter.next_op(uniter.LocalState(), remote(storage=DATA), 0.0)
    assert isinstance(op, uniter.Operation)
    assert (op.hook, op.storage_id) == ("data-storage-attached", "data/0")


def test_storage_added_later_attaches_once() -> None:
    before = settled(remote(storage=DATA[:1]))
    local, ran, _ = run(before, remote(storage=DATA))
    assert ran == ["logs-storage-attached"]
    _, again, _ = run(local, remote(storage=DATA))
    assert again == []


def test_dying_unit_detaches_storage_before_teardown_and_stop() -> None:
    alive = remote(storage=DATA, relations=(peer(units={"app/1": 1}),))
    local = settled(alive)
    _, ran, rest = run(local, alive.model_copy(update={"life": "dying"}))
    assert ran[:2] == ["data-storage-detaching", "logs-storage-detaching"]
    assert ran.index("stop") > ran.index("cluster-relation-broken") > 1
    assert ran[-2:] == ["stop", "remove"]
    assert isinstance(rest, uniter.Removed)


def test_failed_storage_attached_blocks_install_until_it_succeeds() -> None:
    local, ran, _ = run(
        uniter.LocalState(), remote(storage=DATA[:1]), fail={"data-storage-attached"}
    )
    assert ran == ["data-storage-attached"]
    assert local.error is not None and local.error.hook == "data-storage-attached"
    assert not local.installed
    local, ran, _ = run(
        dataclasses.replace(local, error=dataclasses.replace(local.error, retry_at=0.0)),
        remote(storage=DATA[:1]),
    )
    assert ran[:2] == ["data-storage-attached", "install"]
