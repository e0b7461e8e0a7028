"""A real UnitAgent running a charm with a workload container: workload events that arrive
while hooks run are neither lost nor merged into the running hook, each runs its
`<c>-pebble-*` hook with Juju's environment, and the queue and notice cursor persist."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runecraft.agents import _state_store, unit, uniter

from .test_unit_agent import MODEL, TIMEOUT, Charms, Outbox, build_zip, remote, running

RECORD = (
    f"#!{sys.executable} -I\n"
    "import json, os, pathlib, time\n"
    "env = {k: v for k, v in os.environ.items()\n"
    "       if k.startswith(('JUJU_WORKLOAD', 'JUJU_NOTICE', 'JUJU_PEBBLE', 'RUNECRAFT_'))}\n"
    "hook = os.environ['JUJU_HOOK_NAME']\n"
    "with open(os.path.join(os.environ['CHARM_DIR'], 'hooks.log'), 'a') as f:\n"
    "    f.write(json.dumps([hook, env]) + '\\n')\n"
    "go = pathlib.Path(os.environ['CHARM_DIR'], 'go-' + hook)\n"
    "hold = pathlib.Path(os.environ['CHARM_DIR'], 'hold-' + hook)\n"
    "if hold.exists():\n"
    "    while not go.exists():\n"
    "        time.sleep(0.02)\n"
    "    go.unlink()\n"
    "    hold.unlink()\n"
)
"""Records the hook and its Pebble variables; with `hold-<hook>` in the charm dir it
blocks (once) until the test creates `go-<hook>`, so the test acts while it runs."""
CHARM = {
    "metadata.yaml": (
        "name: side\nsummary: s\ndescription: s\n"
        "containers:\n  web:\n    resource: web-image\n"
        "resources:\n  web-image:\n    type: oci-image\n"
    ),
    **{
        f"hooks/{hook}": RECORD
        for hook in (
            "install",
            "config-changed",
            "start",
            "leader-settings-changed",
            "web-pebble-ready",
            "web-pebble-custom-notice",
            "web-pebble-check-failed",
            "web-pebble-check-recovered",
        )
    },
}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pb"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def hooks(agent: unit.UnitAgent) -> list[tuple[str, dict[str, str]]]:
    path = agent.paths.charm / "hooks.log"
    if not path.exists():
        return []
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]


def names(agent: unit.UnitAgent) -> list[str]:
    return [hook for hook, _ in hooks(agent)]


async def wait_for(condition: Callable[[], bool]) -> None:
    """Poll a condition on files the hooks write, with a deadline."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110 (hooks are other processes)
            await asyncio.sleep(0.02)


def unit_agent(tmp_path: Path, short_dir: Path, outbox: Outbox) -> unit.UnitAgent:
    """`demo/0` of the test charm (its hooks record themselves), with its containers' sockets
    under `short_dir`."""
    archive = build_zip(CHARM)
    return unit.UnitAgent(
        remote=remote(archive),
        paths=unit.UnitPaths.for_unit(tmp_path, "demo/0"),
        model=MODEL,
        outbox=outbox,
        charms=Charms(archive),
        containers_dir=short_dir / "c",
    )


def ready() -> uniter.WorkloadEvent:
    return uniter.WorkloadEvent(container="web", kind="ready")


async def test_events_arriving_while_hooks_run_are_kept_and_each_runs(
    tmp_path: Path, short_dir: Path
) -> None:
    outbox = Outbox()
    agent = unit_agent(tmp_path, short_dir, outbox)
    charm = agent.paths.charm
    charm.mkdir(parents=True)
    for hook in ("install", "web-pebble-ready"):
        (charm / f"hold-{hook}").touch()
    failed = uniter.WorkloadEvent(container="web", kind="check-failed", check_name="up")
    custom = uniter.WorkloadEvent(
        container="web",
        kind="custom-notice",
        notice_id="7",
        notice_type="custom",
        notice_key="example.com/k",
    )
    async with running(agent):
        await wait_for(lambda: names(agent) == ["install"])
        # During install: events queue (install's commit must not drop them).
        agent.workload_sink.deliver("web", [ready()])
        agent.workload_sink.deliver("web", [ready(), failed], cursor="2026-01-01T00:00:01Z")
        (charm / "go-install").touch()
        await wait_for(lambda: names(agent)[-1:] == ["web-pebble-ready"])
        # During pebble-ready: the daemon restarted; that is another ready, not this one.
        agent.workload_sink.deliver("web", [ready(), custom], cursor="2026-01-01T00:00:02Z")
        (charm / "go-web-pebble-ready").touch()
        await outbox.wait_idle("h1")

    assert names(agent) == [
        "install",
        "leader-settings-changed",
        "web-pebble-ready",
        "web-pebble-check-failed",
        "web-pebble-ready",
        "web-pebble-custom-notice",
        "config-changed",
        "start",
    ]
    envs = {hook: env for hook, env in hooks(agent)}
    containers = {"RUNECRAFT_CONTAINERS_DIR": str(short_dir / "c")}
    assert envs["install"] == containers
    assert envs["web-pebble-ready"] == {"JUJU_WORKLOAD_NAME": "web", **containers}
    assert envs["web-pebble-check-failed"] == {
        "JUJU_WORKLOAD_NAME": "web",
        "JUJU_PEBBLE_CHECK_NAME": "up",
        **containers,
    }
    assert envs["web-pebble-custom-notice"] == {
        "JUJU_WORKLOAD_NAME": "web",
        "JUJU_NOTICE_ID": "7",
        "JUJU_NOTICE_TYPE": "custom",
        "JUJU_NOTICE_KEY": "example.com/k",
        **containers,
    }
    record = _state_store.StateStore(agent.paths.state).load()
    assert record.workload_events == ()
    assert record.workload_seq == 4
    assert record.notice_cursors == {"web": "2026-01-01T00:00:02Z"}
    # The charm cannot reach Pebble off Kubernetes without the fork server: said once.
    log = agent.paths.log.read_text()
    assert log.count("cannot reach Pebble off Kubernetes") == 1


async def test_pending_duplicates_coalesce_and_a_cursor_alone_is_not_written(
    tmp_path: Path, short_dir: Path
) -> None:
    """While a hook holds the queue, repeats of a pending notice or check add nothing, and
    a notices batch without an event leaves state.json as it was."""
    outbox = Outbox()
    agent = unit_agent(tmp_path, short_dir, outbox)
    charm = agent.paths.charm
    charm.mkdir(parents=True)
    (charm / "hold-install").touch()
    failed = uniter.WorkloadEvent(container="web", kind="check-failed", check_name="up")

    def custom(notice_id: str) -> uniter.WorkloadEvent:
        return uniter.WorkloadEvent(
            container="web",
            kind="custom-notice",
            notice_id=notice_id,
            notice_type="custom",
            notice_key="example.com/k",
        )

    store = _state_store.StateStore(agent.paths.state)
    sink = agent.workload_sink
    async with running(agent):
        await wait_for(lambda: names(agent) == ["install"])
        sink.deliver("web", [custom("7"), failed], cursor="c1")
        sink.deliver("web", [failed, custom("9")], cursor="c2")
        await agent.saved()
        written = agent.paths.state.read_bytes()
        sink.deliver("web", [custom("9"), failed], cursor="c3")
        sink.deliver("web", [], cursor="c4")
        assert (sink.pending("web"), sink.notice_cursor("web")) == (2, "c4")
        await agent.saved()
        assert agent.paths.state.read_bytes() == written
        on_disk = store.load()
        assert on_disk.notice_cursors == {"web": "c2"}
        assert [(e.kind, e.notice_id) for e in on_disk.workload_events] == [
            ("custom-notice", "9"),
            ("check-failed", ""),
        ]
        (charm / "go-install").touch()
        await outbox.wait_idle("h1")

    assert names(agent) == [
        "install",
        "leader-settings-changed",
        "web-pebble-custom-notice",
        "web-pebble-check-failed",
        "config-changed",
        "start",
    ]
    envs = {hook: env for hook, env in hooks(agent)}
    assert envs["web-pebble-custom-notice"]["JUJU_NOTICE_ID"] == "9"
    record = store.load()
    # The cursor went to disk with the next state write.
    assert (record.workload_seq, record.notice_cursors) == (2, {"web": "c4"})


async def test_a_queued_event_survives_an_agent_restart(tmp_path: Path, short_dir: Path) -> None:
    paths = unit.UnitPaths.for_unit(tmp_path, "demo/0")

    def agent(outbox: Outbox) -> unit.UnitAgent:
        return unit_agent(tmp_path, short_dir, outbox)

    paths.charm.mkdir(parents=True)
    (paths.charm / "hold-install").touch()
    first = agent(Outbox())
    async with running(first):
        await wait_for(lambda: names(first) == ["install"])
        first.workload_sink.deliver("web", [ready()])
    # Stopped during install: install runs again, then the queued event.
    (paths.charm / "go-install").touch()
    outbox = Outbox()
    second = agent(outbox)
    async with running(second):
        await outbox.wait_idle("h1")
    assert names(second)[:4] == [
        "install",
        "install",
        "leader-settings-changed",
        "web-pebble-ready",
    ]
