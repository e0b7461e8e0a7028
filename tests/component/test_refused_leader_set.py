"""`leader-set` returns only once the outbox took the settings, as Juju's returns only once
the controller stored them: a real unit agent and hook tools, an outbox that refuses
`LeaderSet` (it is full), and a charm that records what the tool answered."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from runecraft.agents import unit
from runecraft.schemas import bus

from .test_hook_tools import RecordingBackend, make_harness
from .test_unit_agent import BASH_CHARM, Charms, Outbox, build_zip, make_agent, remote, running

LEADER_SET_CHARM = {
    **BASH_CHARM,
    "hooks/config-changed": (
        "#!/bin/bash\n"
        'leader-set mode=primary 2> "$CHARM_DIR/leader-set.err"\n'
        'echo "$?" > "$CHARM_DIR/leader-set.rc"\n'
    ),
}


class FullOutbox(Outbox):
    """Refuses `LeaderSet` until `open` (counting the offers); takes everything else."""

    def __init__(self) -> None:
        super().__init__()
        self.open = False
        self.offers: list[bus.LeaderSet] = []

    async def send(self, message: unit.AgentMessage) -> bool:
        if isinstance(message, bus.LeaderSet):
            self.offers.append(message)
            if not self.open:
                async with self._changed:  # a refusal is news to a waiting test too
                    self._changed.notify_all()
                return False
        return await super().send(message)


async def test_leader_set_fails_writing_nothing_when_the_outbox_never_takes_it(
    tmp_path: Path,
) -> None:
    archive = build_zip(LEADER_SET_CHARM)
    outbox = FullOutbox()
    agent = make_agent(tmp_path, remote(archive, leader=True), Charms(archive), outbox)
    agent.leader_set_wait = 0.2
    async with running(agent):
        await outbox.wait_idle("h1")
    charm = agent.paths.charm
    assert (charm / "leader-set.rc").read_text() == "1\n"
    assert (charm / "leader-set.err").read_text() == (
        "ERROR cannot write settings: the link to the controller took nothing for 0.2 seconds"
        " (its outbox is full); nothing was written\n"
    )
    assert outbox.offers and not any(isinstance(m, bus.LeaderSet) for m in outbox.messages)


async def test_leader_set_waits_for_room_and_sends_the_settings_once(tmp_path: Path) -> None:
    archive = build_zip(LEADER_SET_CHARM)
    outbox = FullOutbox()
    agent = make_agent(tmp_path, remote(archive, leader=True), Charms(archive), outbox)
    async with running(agent):
        await outbox.wait_until(lambda: bool(outbox.offers) and agent.refused)
        outbox.open = True
        agent.poke()  # what the machine agent's heartbeat does for a unit that was refused
        await outbox.wait_idle("h1")
    assert (agent.paths.charm / "leader-set.rc").read_text() == "0\n"
    (sent,) = [m for m in outbox.messages if isinstance(m, bus.LeaderSet)]
    assert sent.settings == {"mode": "primary"}
    assert {offer.seq for offer in outbox.offers} == {sent.seq}, "offered again as it was"


class WaitingBackend(RecordingBackend):
    """A `leader-set` that waits for room that never comes (what the agent's does while
    its outbox is full), noting that it started and whether it was cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()
        self.cancelled = False

    async def leader_set(self, settings: Mapping[str, str]) -> None:
        self.waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_leader_set_still_waiting_when_its_hook_ends_ends_with_it(tmp_path: Path) -> None:
    """A process the hook left behind may still wait in `leader-set` when the hook ends: the
    call ends with the hook (it writes nothing later), and the next hook's calls are served
    at once rather than queued behind it."""
    async for harness in make_harness(tmp_path, leader=True):
        backend = WaitingBackend()
        harness.ctx.backend = backend
        with harness.server.serving(harness.ctx) as hook:
            hook.started(os.getpid())
            left = asyncio.create_task(harness.run("leader-set", "mode=primary"))
            await backend.waiting.wait()
        code, _, _ = await left
        assert code != 0 and backend.cancelled
        with harness.server.serving(harness.ctx) as next_hook:
            next_hook.started(os.getpid())
            assert await harness.run("is-leader", "--format=json") == (0, "true\n", "")
        assert backend.leader_sets == []
