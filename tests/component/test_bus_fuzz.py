"""Fuzzing the bus: agent messages (valid ones with fields mutated, wrong types, huge
numbers, unknown kinds, invalid UTF-8, deep nesting) through the envelope parser and the
controller's apply path, and controller messages through the agents' parser. Nothing
crashes: a message is refused by the parser (`ValueError` naming what is wrong) or by the
controller's rules (a `RunecraftError`, with nothing stored), or applied."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runecraft import errors
from runecraft.controller.services._agents import Received
from runecraft.controller.state import Store
from runecraft.schemas import bus, hooks
from runecraft.schemas import secrets as sec

from .test_relations import REGULAR, World, commit, integrated, make_world, writes
from .test_secrets_state import machine_snapshots

FUZZ = settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
SID = "c0ffee00000000000009"


def _agent_seeds() -> list[tuple[int, dict[str, Any]]]:
    """Valid messages from machine 0 (db/0, the leader of db) as JSON bodies."""
    messages: list[bus.AgentMessage] = [
        commit(
            "db/0",
            7,
            relations=writes(REGULAR, unit={"host": "db0"}, app={"port": "5432"}),
            state_set={"k": "v"},
            secrets=(sec.SecretOp(op="add", id=SID, owner="application", content={"pass": "x1"}),),
        ),
        bus.LeaderSet(unit="db/0", seq=8, settings={"a": "b"}),
        bus.UnitReport(
            unit="db/0",
            seq=9,
            workload=bus.StatusValue(status="active", message="ok"),
            agent=bus.StatusValue(status="idle"),
        ),
        bus.AppStatusReport(
            application="db", unit="db/0", seq=10, status=bus.StatusValue(status="active")
        ),
        bus.ActionLog(unit="db/0", action_id="1", message="hello"),
        bus.Hello(agent="x", units=("db/0",)),
        bus.Heartbeat(agent="x", units=("db/0",)),
        bus.LogBatch(source="unit-db-0", offset=0, end=3, lines=("a",)),
        bus.HookRun(
            unit="db/0",
            id=1,
            hook="install",
            started=1.0,
            duration=0.5,
            exit_code=0,
            outcome="succeeded",
            cause=hooks.HookCause(kind="lifecycle", summary="deployed", details={"a": "b"}),
            env={"JUJU_HOOK_NAME": "install"},
            tool_calls=(hooks.ToolCallRecord(tool="is-leader", exit_code=0, stdout="True\n"),),
        ),
    ]
    return [(0, m.model_dump(mode="json")) for m in messages]


WEIRD = st.one_of(
    st.sampled_from(
        [2**62, 2**63, 2**64, -(2**63) - 1, -1, 0, 1e308, None, True, "", "\x00", "evil\n"]
    ),
    st.sampled_from([[], {}, {"": ""}, [1, "a"], "x" * 5000, {"1": {"unit": 5}}]),
    st.integers(1, 8).map(lambda depth: json.loads("[" * depth * 100 + "]" * depth * 100)),
    st.text(max_size=12),
    st.integers(),
).map(copy.deepcopy)  # a fresh value each draw: a shared [] or {} could be put inside itself


@st.composite
def _mutated(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> bytes:
    body = json.loads(json.dumps(draw(st.sampled_from(seeds))))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["set", "set-nested", "drop", "add", "kind"]))
        keys = sorted(body)
        if how == "set":
            body[draw(st.sampled_from(keys))] = draw(WEIRD)
        elif how == "set-nested":
            key = draw(st.sampled_from(keys))
            if isinstance(body[key], dict) and body[key]:
                inner = draw(st.sampled_from(sorted(body[key])))
                body[key][inner] = draw(WEIRD)
        elif how == "drop":
            body.pop(draw(st.sampled_from(keys)), None)
        elif how == "add":
            body[draw(st.text(max_size=8))] = draw(WEIRD)
        else:
            body["kind"] = draw(st.one_of(st.text(max_size=12), WEIRD))
    payload = json.dumps({"v": 1, "body": body}).encode()
    damage = draw(st.sampled_from(["none", "none", "utf8", "truncate", "version"]))
    if damage == "utf8":
        at = draw(st.integers(0, len(payload)))
        payload = (
            payload[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + payload[at:]
        )
    elif damage == "truncate":
        payload = payload[: draw(st.integers(0, len(payload)))]
    elif damage == "version":
        payload = payload.replace(b'{"v": 1', b'{"v": ' + str(draw(WEIRD)).encode(), 1)
    return payload


@pytest.fixture
async def world(store: Store) -> World:
    made = await make_world(store)
    await integrated(made)
    return made


def _with(kind: str, **fields: Any) -> bytes:
    body = next(body for _, body in _agent_seeds() if body["kind"] == kind)
    return json.dumps({"v": 1, "body": {**body, **fields}}).encode()


@FUZZ
@given(payload=_mutated([body for _, body in _agent_seeds()]))
@example(payload=_with("leader-set", seq=2**63))  # once an OverflowError in the store
@example(payload=_with("unit-report", seq=2**64))
@example(payload=_with("hook-commit", relations={str(2**64): {"unit": {"a": "b"}}}))
async def test_fuzz_agent_messages_are_applied_or_refused_and_a_refusal_stores_nothing(
    world: World, payload: bytes
) -> None:
    try:
        message = bus.decode_agent_message(payload)
    except ValueError as exc:
        assert str(exc)
        return
    agent = f"machine-0.{world.uuid}"
    machine = await world.agents._machine(agent)
    before = await world.store.snapshot()
    try:
        await world.agents._apply([(machine, Received(agent, message))], time.time())
    except errors.RunecraftError as exc:
        assert exc.message
        assert await world.store.snapshot() == before


@pytest.fixture
async def snapshot(world: World) -> bus.MachineSnapshot:
    return next(iter((await machine_snapshots(world)).values()))


@FUZZ
@given(data=st.data())
def test_fuzz_controller_messages_are_parsed_or_refused_with_value_error(
    snapshot: bus.MachineSnapshot, data: st.DataObject
) -> None:
    seeds = [
        snapshot.model_dump(mode="json"),
        bus.LogAck(source="unit-db-0", offset=3).model_dump(mode="json"),
    ]
    payload = data.draw(_mutated(seeds))
    try:
        message = bus.decode_controller_message(payload)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(message, bus.MachineSnapshot | bus.LogAck)
