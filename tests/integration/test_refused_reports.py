"""A unit's report that a full outbox refused is sent again once there is room.

Under load the machine agent's bounded outbox fills while its session stays up (the broker
takes messages slower than they come): a refused report is not lost for good, or a unit
with nothing new to say would show its old status (`executing`) forever. Played with a real
mosquitto that the test stops (SIGSTOP: the session stays up, nothing is acknowledged) and
lets go on, a real bus client with a tiny outbox, and a real machine agent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from runecraft import bus as mqtt
from runecraft.agents import machine
from runecraft.controller import bus as controller_bus
from runecraft.schemas import agent as agent_schema
from runecraft.schemas import bus
from tests import _waiting as waiting
from tests.component.test_unit_agent import BASH_CHARM, Charms, build_zip
from tests.component.test_unit_agent_machine import unit_state
from tests.conftest import free_port

from . import _brokers
from ._brokers import AGENT, AGENT_PASSWORD
from .test_bus_client import TIMEOUT, Controller, within

pytestmark = pytest.mark.mosquitto

UP = bus.up_topic(AGENT)
OUTBOX = 4

GATED_CHARM = {
    **BASH_CHARM,
    # Waits, while the test has made a fifo `gate` in the unit dir, until it is let go.
    "hooks/config-changed": (
        '#!/bin/bash\ngate="$CHARM_DIR/../gate"\nif [ -p "$gate" ]; then read -r _ < "$gate"; fi\n'
    ),
}


def config(tmp_path: Path, port: int) -> agent_schema.AgentConfig:
    return agent_schema.AgentConfig(
        agent=AGENT,
        model_name="test",
        model_uuid="0b1e4d1c-0000-4000-8000-000000000001",
        machine_id="0",
        data_dir=str(tmp_path / "machine-0"),
        broker=agent_schema.BrokerAddress(
            host="127.0.0.1", port=port, username=AGENT, password=AGENT_PASSWORD
        ),
        api_url="http://127.0.0.1:17070",
        api_token="secret",
    )


async def received(controller: Controller, check: Callable[[Any], bool], seen: list[Any]) -> Any:
    """The next message the controller receives that passes `check` (all received kept)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            _, message = await controller.received.get()
            seen.append(message)
            if check(message):
                return message


async def report_where(
    controller: Controller, check: Callable[[bus.UnitReport], bool], seen: list[Any]
) -> bus.UnitReport:
    """The next report the controller receives that passes `check`."""
    report: bus.UnitReport = await received(
        controller, lambda m: isinstance(m, bus.UnitReport) and check(m), seen
    )
    return report


async def eventually(what: str, probe: Callable[[], bool]) -> None:
    """Probe the agent's state, which says nothing when it changes, until it holds (from a
    thread, so that the agent goes on in this loop meanwhile)."""
    await asyncio.to_thread(waiting.until, what, probe, TIMEOUT, interval=0.02)


def machine_snapshot(revision: int, archive: bytes, config_hash: str) -> bus.MachineSnapshot:
    return bus.MachineSnapshot(
        revision=revision,
        model_name="test",
        model_uuid="0b1e4d1c-0000-4000-8000-000000000001",
        machine_id="0",
        units=(unit_state(archive, config_hash=config_hash),),
    )


def settled_on(config_hash: str) -> Callable[[bus.UnitReport], bool]:
    return lambda report: (report.agent.status, report.converged_hash) == ("idle", config_hash)


async def test_a_refused_report_is_sent_again_once_the_outbox_has_room(tmp_path: Path) -> None:
    port = free_port()
    archive = build_zip(GATED_CHARM)
    link = mqtt.BusClient(
        mqtt.Broker("127.0.0.1", port, AGENT, AGENT_PASSWORD),
        client_id=AGENT,
        subscriptions=[bus.down_topic(AGENT)],
        outbox_size=OUTBOX,
    )
    agent = machine.MachineAgent(
        config(tmp_path, port), link=link, charms=Charms(archive), heartbeat_interval=0.05
    )
    gate = tmp_path / "machine-0" / "units" / "plain-0" / "gate"
    controller = Controller(port)
    seen: list[Any] = []
    broker = controller_bus.ManagedMosquitto(tmp_path / "mosquitto", "127.0.0.1", port)
    await broker.start(_brokers.hashes().items())
    pid = int(broker.pid_file.read_text())
    stopped = False
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(controller.bus.run())]
            await within(controller.connects.get())
            tasks.append(tg.create_task(agent.run()))
            await received(controller, lambda m: isinstance(m, bus.Hello), seen)
            assert await controller.bus.publish(AGENT, machine_snapshot(1, archive, "h1"))
            await report_where(controller, settled_on("h1"), seen)

            # config-changed for h2 runs, and waits at the gate.
            os.mkfifo(gate)
            assert await controller.bus.publish(AGENT, machine_snapshot(2, archive, "h2"))
            await report_where(controller, lambda r: r.agent.status == "executing", seen)

            # The broker stops acknowledging (the session stays up) and the outbox fills. Not
            # while a message is on its way: its acknowledgement would make room later.
            await eventually("the outbox to be empty", lambda: link.queued == 0)
            os.kill(pid, signal.SIGSTOP)
            stopped = True
            while link.publish(UP, bus.encode(bus.Heartbeat(agent=AGENT, units=()))):
                pass
            before = link.refused
            unit = agent.units["plain/0"]
            await asyncio.to_thread(gate.write_text, "go\n")
            # The hook is done and the unit, idle on h2, had its report refused (and at
            # least once more since, however the passes fell).
            await eventually(
                "the unit's report on h2 to be refused",
                lambda: unit.local.config_hash == "h2" and unit.refused and link.refused > before,
            )
            after = link.refused
            await eventually("another refusal", lambda: link.refused > after)
            assert link.is_connected()

            # The broker takes messages again: the outbox drains, and the unit's latest
            # report arrives, though nothing about the unit changed since it was refused.
            os.kill(pid, signal.SIGCONT)
            stopped = False
            settled = await report_where(controller, settled_on("h2"), seen)
            assert settled.unit == "plain/0"
            hellos = [m for m in seen if isinstance(m, bus.Hello)]
            assert len(hellos) == 1, "a reconnect would send every report again anyway"
            for task in tasks:
                task.cancel()
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)
        await broker.stop()


# --- what a hook sets at once: application status, leader settings, action-log lines ------

LEADER_CHARM = {
    **BASH_CHARM,
    # At the gate (h2 only), the leader sets its application's status and leader settings.
    "hooks/config-changed": (
        "#!/bin/bash\nset -e\n"
        'gate="$CHARM_DIR/../gate"\n'
        'if [ -p "$gate" ]; then\n'
        '  read -r _ < "$gate"\n'
        '  status-set --application active "app ready"\n'
        "  leader-set mode=primary\n"
        "fi\n"
    ),
    # Logs three lines once let go at `gate`, then waits at `gate2` (still running).
    "actions/progress": (
        "#!/bin/bash\nset -e\n"
        'read -r _ < "$CHARM_DIR/../gate"\n'
        'for n in 1 2 3; do action-log "step $n"; done\n'
        'read -r _ < "$CHARM_DIR/../gate2"\n'
    ),
}


def leader_snapshot(revision: int, archive: bytes, **changes: Any) -> bus.MachineSnapshot:
    return bus.MachineSnapshot(
        revision=revision,
        model_name="test",
        model_uuid="0b1e4d1c-0000-4000-8000-000000000001",
        machine_id="0",
        units=(unit_state(archive, leader=True, **changes),),
    )


class Paused:
    """A real mosquitto the test stops (SIGSTOP: the session stays up, nothing is
    acknowledged) and lets go on, a bus client with a tiny outbox, and a machine agent."""

    def __init__(self, tmp_path: Path, archive: bytes) -> None:
        self.port = free_port()
        self.link = mqtt.BusClient(
            mqtt.Broker("127.0.0.1", self.port, AGENT, AGENT_PASSWORD),
            client_id=AGENT,
            subscriptions=[bus.down_topic(AGENT)],
            outbox_size=OUTBOX,
        )
        self.agent = machine.MachineAgent(
            config(tmp_path, self.port),
            link=self.link,
            charms=Charms(archive),
            heartbeat_interval=0.05,
        )
        self.unit_dir = tmp_path / "machine-0" / "units" / "plain-0"
        self.controller = Controller(self.port)
        self.broker = controller_bus.ManagedMosquitto(
            tmp_path / "mosquitto", "127.0.0.1", self.port
        )
        self.pid = 0
        self.stopped = False
        self.seen: list[Any] = []

    async def stop_and_fill(self) -> int:
        """Stop the broker once nothing is on its way, and fill the outbox; returns the
        refusals counted so far."""
        await eventually("the outbox to be empty", lambda: self.link.queued == 0)
        os.kill(self.pid, signal.SIGSTOP)
        self.stopped = True
        while self.link.publish(UP, bus.encode(bus.Heartbeat(agent=AGENT, units=()))):
            pass
        return self.link.refused

    async def refuse_what_the_hook_sends(self, snapshot: bus.MachineSnapshot, what: str) -> Any:
        """Run `snapshot`'s hook up to its gate, fill the outbox, open the gate, and wait
        until what the hook sends next (`what`) is refused; returns the unit."""
        os.mkfifo(self.unit_dir / "gate")
        assert await self.controller.bus.publish(AGENT, snapshot)
        await report_where(self.controller, lambda r: r.agent.status == "executing", self.seen)
        before = await self.stop_and_fill()
        unit = self.agent.units["plain/0"]
        await asyncio.to_thread((self.unit_dir / "gate").write_text, "go\n")
        await eventually(what, lambda: unit.refused and self.link.refused > before)
        return unit

    def go_on(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self.stopped = False

    def release(self, fifo: str) -> None:
        """Let a hook waiting at `fifo` go on, if one does (never blocks)."""
        with contextlib.suppress(OSError):
            fd = os.open(self.unit_dir / fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"go\n")
            os.close(fd)


@contextlib.asynccontextmanager
async def paused_rig(tmp_path: Path, archive: bytes) -> AsyncIterator[Paused]:
    rig = Paused(tmp_path, archive)
    await rig.broker.start(_brokers.hashes().items())
    rig.pid = int(rig.broker.pid_file.read_text())
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(rig.controller.bus.run())]
            await within(rig.controller.connects.get())
            tasks.append(tg.create_task(rig.agent.run()))
            await received(rig.controller, lambda m: isinstance(m, bus.Hello), rig.seen)
            yield rig
            for task in tasks:
                task.cancel()
    finally:
        if rig.stopped:
            rig.go_on()
        rig.release("gate")
        rig.release("gate2")
        await rig.broker.stop()


async def test_refused_application_status_and_leader_settings_reach_the_controller(
    tmp_path: Path,
) -> None:
    archive = build_zip(LEADER_CHARM)
    async with paused_rig(tmp_path, archive) as rig:
        controller, seen = rig.controller, rig.seen
        assert await controller.bus.publish(AGENT, leader_snapshot(1, archive))
        await report_where(controller, settled_on("h1"), seen)

        # config-changed for h2 waits at the gate; with the outbox full, the hook sets the
        # application status and leader settings.
        unit = await rig.refuse_what_the_hook_sends(
            leader_snapshot(2, archive, config_hash="h2"),
            "the hook's application status or leader settings to be refused",
        )

        # Once the broker takes messages again, both reach the controller, and the hook ends.
        rig.go_on()
        h2 = settled_on("h2")
        for check in (
            lambda m: isinstance(m, bus.AppStatusReport),
            lambda m: isinstance(m, bus.LeaderSet),
            lambda m: isinstance(m, bus.UnitReport) and h2(m),
        ):
            if not any(check(m) for m in seen):
                await received(controller, check, seen)
        (app_status,) = [m for m in seen if isinstance(m, bus.AppStatusReport)]
        assert (app_status.unit, app_status.status) == (
            "plain/0",
            bus.StatusValue(status="active", message="app ready"),
        )
        (leader_set,) = [m for m in seen if isinstance(m, bus.LeaderSet)]
        assert (leader_set.unit, leader_set.settings) == ("plain/0", {"mode": "primary"})
        assert unit.local.error is None, "leader-set waited for room, it did not fail"


async def test_refused_action_log_lines_reach_the_controller_in_order(tmp_path: Path) -> None:
    archive = build_zip(LEADER_CHARM)
    async with paused_rig(tmp_path, archive) as rig:
        controller, seen = rig.controller, rig.seen
        assert await controller.bus.publish(AGENT, leader_snapshot(1, archive))
        await report_where(controller, settled_on("h1"), seen)

        # The action waits at the gate; with the outbox full, it logs three lines (and goes
        # on running, to its second gate).
        os.mkfifo(rig.unit_dir / "gate2")
        action = bus.ActionRequest(id="7", name="progress")
        await rig.refuse_what_the_hook_sends(
            leader_snapshot(2, archive, actions=(action,)), "the action's log lines to be refused"
        )

        # The broker takes messages again: every line arrives, in order, while it runs.
        rig.go_on()
        for _ in range(3):
            await received(controller, lambda m: isinstance(m, bus.ActionLog), seen)
        lines = [(m.action_id, m.message) for m in seen if isinstance(m, bus.ActionLog)]
        assert lines == [("7", "step 1"), ("7", "step 2"), ("7", "step 3")]
        commits = [m for m in seen if isinstance(m, bus.HookCommit)]
        assert not any(c.action is not None for c in commits), "the action is still running"

        await asyncio.to_thread((rig.unit_dir / "gate2").write_text, "go\n")
        commit: bus.HookCommit = await received(
            controller, lambda m: isinstance(m, bus.HookCommit) and m.action is not None, seen
        )
        assert commit.action is not None
        assert commit.action.log == ("step 1", "step 2", "step 3")
