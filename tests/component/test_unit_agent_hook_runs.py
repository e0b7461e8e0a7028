"""A real UnitAgent records every hook it runs (`bus.HookRun`): ids that only grow (across a
restart too), the hook, when and how long, how it ended, why it ran (the config change, the
retry of a failure), its `JUJU_*` environment without the hook's context token, and the
tool calls it made with their output."""

from __future__ import annotations

import json
from pathlib import Path

from runecraft.schemas import bus
from runecraft.schemas import hooks as hook_schema

from .test_unit_agent import (
    BASH_CHARM,
    Charms,
    Clock,
    Outbox,
    build_zip,
    make_agent,
    remote,
    running,
)


def runs(outbox: Outbox) -> list[bus.HookRun]:
    return [m for m in outbox.messages if isinstance(m, bus.HookRun)]


async def test_each_hook_run_is_recorded_with_its_cause_env_and_tool_calls(
    tmp_path: Path,
) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, clock = Outbox(), Clock()
    agent = make_agent(tmp_path, remote(archive), Charms(archive), outbox, clock)
    async with running(agent):
        await outbox.wait_idle("h1")
        first = runs(outbox)
        agent.update(remote(archive, config={"greeting": "bonjour"}, config_hash="h2"))
        await outbox.wait_idle("h2")

    assert [(r.id, r.hook, r.outcome, r.exit_code) for r in first] == [
        (1, "install", "succeeded", 0),
        (2, "leader-settings-changed", "missing", None),
        (3, "config-changed", "succeeded", 0),
        (4, "start", "succeeded", 0),
    ]
    assert all(r.unit == "demo/0" and r.duration >= 0 for r in first)
    assert first[0].cause.kind == "lifecycle" and "demo" in first[0].cause.summary
    assert first[2].cause.details["config_hash"] == "h1"

    changed = runs(outbox)[-1]
    assert (changed.id, changed.hook) == (5, "config-changed")
    assert changed.cause == hook_schema.HookCause(
        kind="config", summary="config hash h2", details={"config_hash": "h2"}
    )
    assert changed.env["JUJU_HOOK_NAME"] == "config-changed"
    assert changed.env["JUJU_UNIT_NAME"] == "demo/0"
    assert changed.env["JUJU_CONTEXT_ID"] == hook_schema.REDACTED
    assert all(name.startswith("JUJU_") or name == "CHARM_DIR" for name in changed.env)
    get = next(call for call in changed.tool_calls if call.tool == "config-get")
    assert get.args == ("--format=json",)
    assert json.loads(get.stdout) == {"greeting": "bonjour"}
    log = next(call for call in changed.tool_calls if call.tool == "juju-log")
    assert log.args[:2] == ("-l", "WARNING") and log.exit_code == 0
    assert changed.tool_calls_dropped == 0


async def test_a_failure_its_retry_and_a_restart_are_runs_of_their_own(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, clock, charms = Outbox(), Clock(), Charms(archive)
    agent = make_agent(tmp_path, remote(archive), charms, outbox, clock)
    async with running(agent):
        await outbox.wait_idle("h1")
        (agent.paths.charm / "fail").touch()
        agent.update(remote(archive, config={"greeting": "x"}, config_hash="h2"))
        await outbox.wait_for(lambda r: r.agent.status == "error")
        error = agent.local.error
        assert error is not None
        clock.now = error.retry_at
        (agent.paths.charm / "fail").unlink()
        agent.poke()
        await outbox.wait_idle("h2")

    failed, retried = runs(outbox)[-2:]
    assert (failed.hook, failed.outcome, failed.exit_code) == ("config-changed", "failed", 3)
    assert failed.cause.kind == "config"
    assert (retried.hook, retried.outcome, retried.id) == ("config-changed", "succeeded", 6)
    assert retried.cause.kind == "retry"
    assert retried.cause.details["attempt"] == "2"
    assert retried.cause.details["config_hash"] == "h2"

    # A new agent on the same unit dir numbers on from the runs before it.
    again = Outbox()
    agent = make_agent(tmp_path, remote(archive, config_hash="h3"), charms, again, clock)
    async with running(agent):
        await again.wait_idle("h3")
    assert [(r.id, r.hook) for r in runs(again)] == [(7, "config-changed")]


async def test_a_reconnect_sends_the_newest_runs_again(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, clock = Outbox(), Clock()
    agent = make_agent(tmp_path, remote(archive), Charms(archive), outbox, clock)
    async with running(agent):
        await outbox.wait_idle("h1")
        sent = runs(outbox)
        await agent.resend()
    assert [r.id for r in sent] == [1, 2, 3, 4]
    assert runs(outbox)[len(sent) :] == sent  # the controller stores each id once
