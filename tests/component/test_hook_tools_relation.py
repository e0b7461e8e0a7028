"""Relation hook tools through the real client: relation-ids/list/get/set/model-get.

The context is a `db-relation-changed` hook of `app/0` for remote unit `mysql/0`, with three
relations: `db:1` (requirer of mysql, one unit departed), `cluster:9` (peers) and
`website:4` (provider, nobody joined yet).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runecraft.agents import _relations, hooktools
from runecraft.schemas import bus

from .test_hook_tools import MODEL_UUID, Harness, make_harness, remote

DB = bus.RelationRemote(
    id=1,
    endpoint="db",
    interface="mysql",
    role="requirer",
    remote_application="mysql",
    units={"mysql/0": 2, "mysql/1": 1},
    app_version=1,
    unit_data={
        "mysql/0": {"host": "10.0.0.5", "port": "3306"},
        "mysql/1": {"host": "10.0.0.6"},
        "mysql/2": {"host": "10.0.0.7", "note": "departed"},
    },
    app_data={"database": "prod"},
    local_unit_data={"private-address": "10.1.1.1", "x": "old"},
    local_app_data={"owned": "by-leader"},
)
PEERS = bus.RelationRemote(
    id=9,
    endpoint="cluster",
    interface="app-peers",
    role="peer",
    remote_application="app",
    units={"app/1": 1},
    unit_data={"app/1": {"peer": "one"}},
    app_data={"leader-key": "l"},
    local_app_data={"leader-key": "l"},
)
WEBSITE = bus.RelationRemote(
    id=4, endpoint="website", interface="http", role="provider", remote_application="haproxy"
)

STATES = {
    1: _relations.RelationState(
        id=1, endpoint="db", remote_app="mysql", members={"mysql/0": 1, "mysql/1": 1}
    ),
    9: _relations.RelationState(
        id=9, endpoint="cluster", remote_app="app", peer=True, members={"app/1": 1}
    ),
    4: _relations.RelationState(id=4, endpoint="website", remote_app="haproxy"),
}
CHANGED = hooktools.HookRelation(
    relation_id=1, endpoint="db", remote_unit="mysql/0", remote_app="mysql"
)


def follower_state(**changes: Any) -> bus.UnitRemoteState:
    db = DB.model_copy(update={"local_app_data": None})
    return remote(relations=(db, PEERS, WEBSITE), **changes)


def leader_state(**changes: Any) -> bus.UnitRemoteState:
    return remote(leader=True, relations=(DB, PEERS, WEBSITE), **changes)


async def harness_for(
    tmp_path: Path,
    *,
    leader: bool = False,
    hook: str = "db-relation-changed",
    relation: hooktools.HookRelation | None = CHANGED,
    event: str = "changed",
    **extra: Any,
) -> AsyncIterator[Harness]:
    state = leader_state() if leader else follower_state()
    async for harness in make_harness(
        tmp_path,
        leader=leader,
        hook=hook,
        state=extra.pop("state", state),
        relations=STATES,
        hook_relation=relation,
        relation_event=event,
        **extra,
    ):
        yield harness


@pytest.fixture
async def follower(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in harness_for(tmp_path):
        yield harness


@pytest.fixture
async def leader(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in harness_for(tmp_path, leader=True):
        yield harness


@pytest.fixture
async def install(tmp_path: Path) -> AsyncIterator[Harness]:
    """A non-relation hook: no default relation."""
    async for harness in harness_for(tmp_path, hook="install", relation=None, event=""):
        yield harness


# --- relation-ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "out"),
    [
        ([], "db:1\n"),
        (["--format=json"], '["db:1"]\n'),
        (["cluster", "--format=json"], '["cluster:9"]\n'),
        (["website"], "website:4\n"),
        (["nope"], ""),
        (["nope", "--format=json"], "[]\n"),
        (["db", "--format=yaml"], "- db:1\n"),
    ],
)
async def test_relation_ids(follower: Harness, args: list[str], out: str) -> None:
    assert await follower.run("relation-ids", *args) == (0, out, "")


async def test_relation_ids_needs_an_endpoint_outside_relation_hooks(install: Harness) -> None:
    assert await install.run("relation-ids") == (2, "", "ERROR no endpoint name specified\n")
    assert await install.run("relation-ids", "db") == (0, "db:1\n", "")
    assert await install.run("relation-ids", "db", "x") == (
        2,
        "",
        'ERROR unrecognized args: ["x"]\n',
    )


async def test_relation_ids_hides_the_relation_being_broken(tmp_path: Path) -> None:
    broken = hooktools.HookRelation(relation_id=1, endpoint="db", remote_app="mysql")
    async for harness in harness_for(
        tmp_path, hook="db-relation-broken", relation=broken, event="broken"
    ):
        assert await harness.json("relation-ids", "db") == []
        assert await harness.json("relation-list") == []
        assert await harness.json("relation-list", "--app") == "mysql"


# --- relation-list -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "out"),
    [
        ([], "mysql/0\nmysql/1\n"),
        (["--format=json"], '["mysql/0","mysql/1"]\n'),
        (["-r", "9", "--format=json"], '["app/1"]\n'),
        (["-r", "cluster:9", "--app"], "app\n"),
        (["--app", "--format=json"], '"mysql"\n'),
        (["--relation=website:4", "--format=json"], "[]\n"),
        (["-r", "anything:1"], "mysql/0\nmysql/1\n"),
    ],
)
async def test_relation_list(follower: Harness, args: list[str], out: str) -> None:
    assert await follower.run("relation-list", *args) == (0, out, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "77"], 'invalid value "77" for option -r: relation not found'),
        (["--relation=db:77"], 'invalid value "db:77" for option --relation: relation not found'),
        (["-r", "db:x"], 'invalid value "db:x" for option -r: invalid relation id'),
        (["extra"], 'unrecognized args: ["extra"]'),
    ],
)
async def test_relation_list_usage_errors(follower: Harness, args: list[str], message: str) -> None:
    assert await follower.run("relation-list", *args) == (2, "", f"ERROR {message}\n")


async def test_relation_list_outside_relation_hooks_needs_r(install: Harness) -> None:
    assert await install.run("relation-list") == (2, "", "ERROR no relation id specified\n")
    assert await install.json("relation-list", "-r", "1") == ["mysql/0", "mysql/1"]


async def test_relation_list_in_joined_and_departed_hooks(tmp_path: Path) -> None:
    joined = hooktools.HookRelation(
        relation_id=4, endpoint="website", remote_unit="haproxy/0", remote_app="haproxy"
    )
    async for harness in harness_for(
        tmp_path / "j", hook="website-relation-joined", relation=joined, event="joined"
    ):
        assert await harness.json("relation-list") == ["haproxy/0"]
    departed = hooktools.HookRelation(
        relation_id=1,
        endpoint="db",
        remote_unit="mysql/1",
        remote_app="mysql",
        departing_unit="mysql/1",
    )
    async for harness in harness_for(
        tmp_path / "d", hook="db-relation-departed", relation=departed, event="departed"
    ):
        assert await harness.json("relation-list") == ["mysql/0"]
        # The departing unit's settings are still readable.
        assert await harness.json("relation-get") == {"host": "10.0.0.6"}


# --- relation-get ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["--format=json"], '{"host":"10.0.0.5","port":"3306"}\n'),
        ([], 'host: 10.0.0.5\nport: "3306"\n'),
        (["host"], "10.0.0.5\n"),
        (["port", "--format=json"], '"3306"\n'),
        (["missing"], ""),
        (["missing", "--format=json"], "null\n"),
        (["-", "mysql/1", "--format=json"], '{"host":"10.0.0.6"}\n'),
        (
            ["--format=json", "-r", "db:1", "-", "mysql/2"],
            '{"host":"10.0.0.7","note":"departed"}\n',
        ),
        (["--app", "--format=json"], '{"database":"prod"}\n'),
        (["--app", "database"], "prod\n"),
        (["--app", "-", "mysql/0", "--format=json"], '{"database":"prod"}\n'),
        (["--app", "-", "mysql", "--format=json"], '{"database":"prod"}\n'),
        (["-r", "9", "-", "app/1", "--format=json"], '{"peer":"one"}\n'),
        (["-r", "9", "--app", "-", "app", "--format=json"], '{"leader-key":"l"}\n'),
        (["-", "app/0", "--format=json"], '{"private-address":"10.1.1.1","x":"old"}\n'),
    ],
)
async def test_relation_get(follower: Harness, args: list[str], out: str) -> None:
    assert await follower.run("relation-get", *args) == (0, out, "")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--app", "-", "app"], 1, "permission denied"),
        (["-", "mysql"], 1, "expected unit name, got application name"),
        (
            ["-", "mysql/7"],
            1,
            'cannot read settings for unit "mysql/7" in relation "db:1": '
            'unit "mysql/7": settings not found',
        ),
        (["-r", "5"], 2, 'invalid value "5" for option -r: relation not found'),
        (["-", "mysql/0", "extra"], 2, 'unrecognized args: ["extra"]'),
    ],
)
async def test_relation_get_errors(
    follower: Harness, args: list[str], code: int, message: str
) -> None:
    assert await follower.run("relation-get", *args) == (code, "", f"ERROR {message}\n")


async def test_relation_get_own_app_bag_as_leader(leader: Harness) -> None:
    assert await leader.json("relation-get", "--app", "-", "app") == {"owned": "by-leader"}
    assert await leader.json("relation-get", "--app", "-", "app/0") == {"owned": "by-leader"}


async def test_relation_get_defaults_outside_a_unit_context(install: Harness) -> None:
    assert await install.run("relation-get") == (2, "", "ERROR no relation id specified\n")
    assert await install.run("relation-get", "-r", "1") == (
        2,
        "",
        "ERROR no unit or application specified\n",
    )
    assert await install.json("relation-get", "-r", "1", "-", "mysql/0") == {
        "host": "10.0.0.5",
        "port": "3306",
    }


async def test_relation_get_in_an_app_level_changed_hook_reads_the_app(tmp_path: Path) -> None:
    app_changed = hooktools.HookRelation(relation_id=1, endpoint="db", remote_app="mysql")
    async for harness in harness_for(tmp_path, relation=app_changed):
        assert await harness.json("relation-get") == {"database": "prod"}


# --- relation-set ------------------------------------------------------------------------------


async def test_relation_set_is_buffered_and_visible_to_own_reads(follower: Harness) -> None:
    code, out, err = await follower.run(
        "relation-set", "-r", "db:1", "--file", "-", stdin=b'{"x": "1", "y": "2"}'
    )
    assert (code, out, err) == (0, "", "")
    assert await follower.run("relation-set", "y=", "z=3") == (0, "", "")
    assert await follower.json("relation-get", "-", "app/0") == {
        "private-address": "10.1.1.1",
        "x": "1",
        "z": "3",
    }
    parts = follower.ctx.commit_parts()
    assert parts.relations == {1: bus.RelationWrite(unit={"x": "1", "y": "", "z": "3"})}
    assert parts.app_written == ()


async def test_relation_set_reads_yaml_files_relative_to_cwd(follower: Harness) -> None:
    (follower.charm_dir / "data.yaml").write_text("a: 1\nb: true\nc: text\nd: ''\n")
    assert await follower.run("relation-set", "--file", "data.yaml", "c=override") == (0, "", "")
    unit_writes, _ = follower.ctx.relation_writes[1]
    assert unit_writes == {"a": "1", "b": "true", "c": "override", "d": ""}


async def test_relation_set_app_bag_is_leader_only(leader: Harness, tmp_path: Path) -> None:
    assert await leader.run("relation-set", "--app", "shared=yes") == (0, "", "")
    assert await leader.json("relation-get", "--app", "-", "app") == {
        "owned": "by-leader",
        "shared": "yes",
    }
    parts = leader.ctx.commit_parts()
    assert parts.relations == {1: bus.RelationWrite(app={"shared": "yes"})}
    assert parts.app_written == (1,)


async def test_relation_set_app_bag_refused_for_followers(follower: Harness) -> None:
    assert await follower.run("relation-set", "--app", "shared=yes") == (
        1,
        "",
        "ERROR cannot write relation settings\n",
    )
    assert await follower.run("relation-set", "-r", "9", "--app", "--file", "-", stdin=b"{}") == (
        1,
        "",
        "ERROR cannot write relation settings\n",
    )
    assert follower.ctx.commit_parts().empty


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["novalue"], None, 2, 'expected "key=value", got "novalue"'),
        (["a=1", "a=2"], None, 2, 'key "a" specified more than once'),
        (["-r", "88", "a=1"], None, 2, 'invalid value "88" for option -r: relation not found'),
        (
            ["--file", "-"],
            b"- not\n- a map\n",
            1,
            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]string",
        ),
        (["--file", "missing.yaml"], None, 1, None),
    ],
)
async def test_relation_set_errors(
    follower: Harness, args: list[str], stdin: bytes | None, code: int, message: str | None
) -> None:
    got_code, out, err = await follower.run("relation-set", *args, stdin=stdin)
    assert (got_code, out) == (code, "")
    if message is not None:
        assert err == f"ERROR {message}\n"
    assert err.startswith("ERROR ")
    assert follower.ctx.commit_parts().empty


async def test_relation_set_outside_relation_hooks_needs_r(install: Harness) -> None:
    assert await install.run("relation-set", "a=1") == (2, "", "ERROR no relation id specified\n")


async def test_relation_set_size_limit(follower: Harness) -> None:
    big = json.dumps({"blob": "x" * (16 * 1024 * 1024)}).encode()
    code, _, err = await follower.run("relation-set", "--file", "-", stdin=big)
    assert code == 1
    assert "exceeds the limit of 16777216 bytes" in err
    assert follower.ctx.commit_parts().empty


async def test_relation_set_deprecated_format_flag_warns(follower: Harness) -> None:
    assert await follower.run("relation-set", "--format=json", "a=b") == (
        0,
        "",
        '--format flag deprecated for command "relation-set"',
    )


async def test_relation_set_help_mentions_file(follower: Harness) -> None:
    code, out, _ = await follower.run("relation-set", "--help")
    assert code == 0 and "--file" in out  # charmhelpers greps for it


# --- unacknowledged commits ----------------------------------------------------------------------


async def test_reads_include_own_commits_the_controller_has_not_applied(tmp_path: Path) -> None:
    earlier = bus.HookCommit(
        unit="app/0",
        seq=3,
        hook="db-relation-joined",
        relations={1: bus.RelationWrite(unit={"from-earlier": "yes", "x": ""})},
        state_set={"k": "v"},
    )
    async for harness in harness_for(
        tmp_path, state=follower_state(commit_seq=2), pending=(earlier,)
    ):
        assert await harness.json("relation-get", "-", "app/0") == {
            "private-address": "10.1.1.1",
            "from-earlier": "yes",
        }
        assert await harness.json("state-get") == {"k": "v"}


async def test_acknowledged_commits_are_not_applied_twice(tmp_path: Path) -> None:
    earlier = bus.HookCommit(
        unit="app/0", seq=3, hook="x", relations={1: bus.RelationWrite(unit={"x": "stale"})}
    )
    async for harness in harness_for(
        tmp_path, state=follower_state(commit_seq=3), pending=(earlier,)
    ):
        assert (await harness.json("relation-get", "-", "app/0"))["x"] == "old"


# --- relation-model-get --------------------------------------------------------------------------


async def test_relation_model_get(follower: Harness, tmp_path: Path) -> None:
    assert await follower.json("relation-model-get") == {"uuid": MODEL_UUID}
    assert await follower.run("relation-model-get", "-r", "66") == (
        2,
        "",
        'ERROR invalid value "66" for option -r: relation not found\n',
    )
    other = DB.model_copy(update={"remote_model_uuid": "other-model"})
    async for harness in harness_for(
        tmp_path / "x", state=remote(relations=(other,)), relation=CHANGED
    ):
        assert await harness.json("relation-model-get", "-r", "db:1") == {"uuid": "other-model"}
