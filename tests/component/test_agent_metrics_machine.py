"""The machine agent's metrics over a fake link: a unit that stops executing (idle, or in
error) has every hook it ran counted in a metrics message sent before its report says so."""

from __future__ import annotations

from pathlib import Path

from runecraft.agents import machine
from runecraft.schemas import bus

from .test_unit_agent import BASH_CHARM, Charms, build_zip
from .test_unit_agent_machine import FakeLink, agent_config, serving, snapshot, unit_state

FAILING_CHARM = {**BASH_CHARM, "hooks/config-changed": "#!/bin/bash\nexit 3\n"}


def counted(message: bus.AgentMetrics) -> dict[tuple[str, str, str], int]:
    return {(t.charm, t.hook, t.outcome): sum(t.buckets) for t in message.hooks}


async def test_hooks_are_counted_before_the_unit_reports_an_error(tmp_path: Path) -> None:
    archive = build_zip(FAILING_CHARM)
    link = FakeLink()
    agent = machine.MachineAgent(agent_config(tmp_path), link=link, charms=Charms(archive))

    def in_error(sent: list[object]) -> bool:
        return any(isinstance(m, bus.UnitReport) and m.agent.status == "error" for m in sent)

    async with serving(agent):
        remote = unit_state(archive, leader=True, retry_hooks=False)
        await link.inbox.put(snapshot(1, remote))
        await link.wait_for(in_error)
        error = next(
            i
            for i, m in enumerate(link.sent)
            if isinstance(m, bus.UnitReport) and m.agent.status == "error"
        )
        before = [m for m in link.sent[:error] if isinstance(m, bus.AgentMetrics)]
        assert before, "no metrics were sent before the error report"
        assert counted(before[-1]) == {
            ("plain", "install", "succeeded"): 1,
            ("plain", "leader-elected", "missing"): 1,
            ("plain", "config-changed", "failed"): 1,
        }
        assert before[-1].connects == 1
        assert before[-1].agent == "machine-0"
        assert agent.meter.hooks_run() == 3
        unit_log = (Path(agent.data_dir) / "units" / "plain-0" / "unit.log").read_text()
        assert 'hook "config-changed" failed: exit status 3' in unit_log
