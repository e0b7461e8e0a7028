"""Charm-state, leader-settings and action tools through the real client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runecraft.agents import hooktools

from .test_hook_tools import Harness, make_harness, remote


@pytest.fixture
async def stateful(tmp_path: Path) -> AsyncIterator[Harness]:
    state = remote(
        state={"a": "1", "b": "two"},
        leader_settings={"cfg": "x", "other": "y"},
        leader_settings_version=3,
    )
    async for harness in make_harness(tmp_path, leader=False, state=state):
        yield harness


@pytest.fixture
async def leading(tmp_path: Path) -> AsyncIterator[Harness]:
    state = remote(leader=True, leader_settings={"cfg": "x"})
    async for harness in make_harness(tmp_path, leader=True, state=state):
        yield harness


@pytest.fixture
async def action(tmp_path: Path) -> AsyncIterator[Harness]:
    run = hooktools.ActionRun(
        id="17",
        name="backup",
        params={"target": "s3", "opts": {"level": 9, "deep": {"x": "y"}}, "flag": True},
    )
    async for harness in make_harness(tmp_path, leader=False, hook="", action=run):
        yield harness


# --- state-get / state-set / state-delete ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "out"),
    [
        ([], 'a: "1"\nb: two\n'),
        (["--format=json"], '{"a":"1","b":"two"}\n'),
        (["-", "--format=json"], '{"a":"1","b":"two"}\n'),
        (["b"], "two\n"),
        (["a", "--format=json"], '"1"\n'),
        (["missing"], ""),
        (["missing", "--format=json"], "null\n"),
    ],
)
async def test_state_get(stateful: Harness, args: list[str], out: str) -> None:
    assert await stateful.run("state-get", *args) == (0, out, "")


async def test_state_get_strict(stateful: Harness) -> None:
    assert await stateful.run("state-get", "--strict", "missing") == (
        1,
        "",
        'ERROR "missing" not found\n',
    )
    assert await stateful.run("state-get", "--strict", "b") == (0, "two\n", "")
    assert await stateful.run("state-get", "a", "b") == (2, "", 'ERROR unrecognized args: ["b"]\n')


async def test_state_set_and_delete_are_buffered(stateful: Harness) -> None:
    # ops' JujuStorage writes a YAML map of YAML-dumped values in literal block style.
    stdin = b"snapshot: |\n  {a: 1}\n"
    assert await stateful.run("state-set", "--file", "-", stdin=stdin) == (0, "", "")
    assert await stateful.run("state-set", "c=3", "d=") == (0, "", "")
    assert await stateful.run("state-delete", "a") == (0, "", "")
    assert await stateful.json("state-get") == {
        "b": "two",
        "c": "3",
        "d": "",
        "snapshot": "{a: 1}\n",
    }
    assert await stateful.run("state-get", "snapshot") == (0, "{a: 1}\n\n", "")
    parts = stateful.ctx.commit_parts()
    assert parts.state_set == {"snapshot": "{a: 1}\n", "c": "3", "d": ""}
    assert parts.state_delete == ("a",)
    assert stateful.ctx.state == {"a": "1", "b": "two"}  # nothing applied before commit


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["k" * 257 + "=v"], None, 1, "max allowed key length (256) exceeded"),
        (["k=" + "v" * (64 * 1024 + 1)], None, 1, "max allowed value length (65536) exceeded"),
        (["novalue"], None, 2, 'expected "key=value", got "novalue"'),
        (["--file", "-"], b"[1, 2]", 1, None),
    ],
)
async def test_state_set_errors(
    stateful: Harness, args: list[str], stdin: bytes | None, code: int, message: str | None
) -> None:
    got, out, err = await stateful.run("state-set", *args, stdin=stdin)
    assert (got, out) == (code, "")
    assert err.startswith("ERROR ")
    if message is not None:
        assert err == f"ERROR {message}\n"
    assert stateful.ctx.commit_parts().empty


async def test_state_set_accepts_limits_exactly(stateful: Harness) -> None:
    key, value = "k" * 256, "v" * (64 * 1024)
    assert await stateful.run("state-set", f"{key}={value}") == (0, "", "")


async def test_state_delete_usage(stateful: Harness) -> None:
    assert await stateful.run("state-delete") == (2, "", "ERROR no key specified\n")
    assert await stateful.run("state-delete", "a", "b") == (
        2,
        "",
        'ERROR unrecognized args: ["b"]\n',
    )


# --- leader-get / leader-set -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "out"),
    [
        ([], 'cfg: x\nother: "y"\n'),
        (["--format=json"], '{"cfg":"x","other":"y"}\n'),
        (["cfg"], "x\n"),
        (["nope", "--format=json"], "null\n"),
    ],
)
async def test_leader_get(stateful: Harness, args: list[str], out: str) -> None:
    assert await stateful.run("leader-get", *args) == (0, out, "")


async def test_leader_set_needs_leadership(stateful: Harness) -> None:
    assert await stateful.run("leader-set", "a=b") == (
        1,
        "",
        "ERROR cannot write settings: not the leader\n",
    )
    assert stateful.backend.leader_sets == []


async def test_leader_set_is_immediate_and_visible(leading: Harness) -> None:
    assert await leading.run("leader-set", "cfg=", "new=1") == (0, "", "")
    assert leading.backend.leader_sets == [{"cfg": "", "new": "1"}]
    assert await leading.json("leader-get") == {"new": "1"}
    assert leading.ctx.commit_parts().empty  # not part of the hook's commit
    assert await leading.run("leader-set", "oops") == (
        2,
        "",
        'ERROR expected "key=value", got "oops"\n',
    )


# --- actions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["--format=json"], '{"flag":true,"opts":{"deep":{"x":"y"},"level":9},"target":"s3"}\n'),
        (["target"], "s3\n"),
        (["opts.level", "--format=json"], "9\n"),
        (["opts.deep.x"], "y\n"),
        (["opts.nope", "--format=json"], "null\n"),
        (["target.deeper", "--format=json"], "null\n"),
        (["flag"], "True\n"),
    ],
)
async def test_action_get(action: Harness, args: list[str], out: str) -> None:
    assert await action.run("action-get", *args) == (0, out, "")


@pytest.mark.parametrize("tool", ["action-get", "action-fail", "action-set", "action-log"])
async def test_action_tools_outside_actions(stateful: Harness, tool: str) -> None:
    args = {"action-set": ["a=b"], "action-log": ["msg"]}.get(tool, [])
    assert await stateful.run(tool, *args) == (1, "", "ERROR not running an action\n")


async def test_action_set_builds_nested_results(action: Harness) -> None:
    assert await action.run("action-set", "outfile.size=10G", "foo.bar=2", "foo.baz.val=3") == (
        0,
        "",
        "",
    )
    assert await action.run("action-set", "foo.bar.zab=4", "foo.baz=1", "plain=a=b") == (0, "", "")
    assert action.ctx.action is not None
    assert action.ctx.action.results == {
        "outfile": {"size": "10G"},
        "foo": {"bar": {"zab": "4"}, "baz": "1"},
        "plain": "a=b",
    }


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("novalue", 'argument "novalue" must be of the form key...=value'),
        (
            "Upper=1",
            'key "Upper" must start and end with lowercase alphanumeric, and contain only '
            "lowercase alphanumeric, hyphens and periods",
        ),
        (
            "a.-b=1",
            'key "-b" must start and end with lowercase alphanumeric, and contain only '
            "lowercase alphanumeric, hyphens and periods",
        ),
        ("stdout=x", 'cannot set reserved action key "stdout"'),
        ("nested.stderr-encoding=x", 'cannot set reserved action key "stderr-encoding"'),
    ],
)
async def test_action_set_key_rules(action: Harness, arg: str, message: str) -> None:
    assert await action.run("action-set", arg) == (2, "", f"ERROR {message}\n")
    assert action.ctx.action is not None and action.ctx.action.results == {}


async def test_action_fail_default_and_custom_message(action: Harness) -> None:
    assert action.ctx.action is not None
    assert await action.run("action-fail") == (0, "", "")
    assert action.ctx.action.failed
    assert action.ctx.action.message == (
        "action failed without reason given, check action for errors"
    )
    assert await action.run("action-fail", "disk full") == (0, "", "")
    assert action.ctx.action.message == "disk full"
    assert await action.run("action-fail", "a", "b") == (2, "", 'ERROR unrecognized args: ["b"]\n')


async def test_action_log_is_sent_at_once(action: Harness) -> None:
    assert await action.run("action-log", "--", "step", "1", "of", "3") == (0, "", "")
    assert action.backend.action_logs == [("17", "step 1 of 3")]
    assert action.ctx.action is not None and action.ctx.action.log == ["step 1 of 3"]
    assert await action.run("action-log") == (2, "", "ERROR no message specified\n")
