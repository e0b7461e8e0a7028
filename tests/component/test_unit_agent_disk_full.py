"""A unit agent whose unit directory is on a full disk (a real tmpfs): it never exits, starts
no hook while the hook's running step cannot be saved, says why in its agent status, and
catches up, each hook run once, when space returns."""

from __future__ import annotations

from runecraft.agents import _state_store
from runecraft.schemas import bus
from tests._tmpfs import fill, small_tmpfs
from tests.component.test_unit_agent import (
    BASH_CHARM,
    Charms,
    Outbox,
    build_zip,
    hooks_run,
    make_agent,
    remote,
    running,
    running_hooks,
)


async def test_a_full_disk_holds_hooks_back_until_space_returns() -> None:
    archive = build_zip(BASH_CHARM)
    outbox = Outbox()
    with small_tmpfs("16m") as where:
        agent = make_agent(where, remote(archive), Charms(archive), outbox)
        async with running(agent) as task:
            await outbox.wait_idle("h1")
            filler = fill(where)
            agent.update(remote(archive, config={"greeting": "hi"}, config_hash="h2"))
            waiting = await outbox.wait_for(
                lambda r: r.agent.message.startswith("cannot save unit state")
            )
            assert waiting.agent == bus.StatusValue(
                status="executing",  # not idle: the controller must not think it settled
                message="cannot save unit state, retrying: no space left on device",
            )
            assert not task.done()
            assert running_hooks(outbox).count("config-changed") == 1  # not started

            filler.unlink()
            final = await outbox.wait_idle("h2")
            assert final.agent.message == ""
        assert running_hooks(outbox).count("config-changed") == 2
        assert hooks_run(agent).count("config-changed") == 2
        saved = _state_store.StateStore(agent.paths.state).load()
        assert saved.local.config_hash == "h2"  # what it ran is on disk, done
        assert not list(agent.paths.base.glob(".*.tmp"))  # no half-written record left
