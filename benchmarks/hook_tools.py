"""Hook-tool call latency and ops hooks per second, through the unit agent's real path.

A real `ToolServer` serves a real `HookContext` (a `db-relation-changed` hook of `app/0`
with one related unit) on an asyncio loop, exactly as the unit agent does; every call is
the installed client script started as a new process, so a figure is client start-up,
one socket round trip and the agent's work. Hooks run through `hookrunner.run_hook` with
the Juju environment, for the `hello` example charm packed as `rune deploy` packs it.

Baselines measured the same way in the same run: `/bin/true` (the floor for any process),
`python3 -c pass` and `python3 -c "import ops"` (what every ops hook pays before it does
anything) with the charm's own interpreter and `venv/`; and the Python client (the fallback
where there is no perl) against the perl one the agent installs.

    python benchmarks/hook_tools.py [--calls 300] [--hooks 30] [--cache DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from runecraft import charms
from runecraft.agents import (
    _context,
    _forkserver,
    _relations,
    _toolserver,
    _unitlog,
    hookrunner,
)
from runecraft.schemas import bus

REPO = Path(__file__).resolve().parents[1]
UNIT = "hello/0"
TOOL_CALLS: tuple[tuple[str, ...], ...] = (
    ("is-leader",),
    ("juju-log", "benchmark message"),
    ("relation-get", "-", "peer/0"),
    ("config-get", "greeting"),
)


class _Backend:
    """Immediate effects are dropped: the benchmark measures the call path, not reports."""

    async def set_unit_status(self, status: bus.StatusValue) -> None:
        del status

    async def set_app_status(self, status: bus.StatusValue) -> None:
        del status

    async def set_workload_version(self, version: str) -> None:
        del version

    async def leader_set(self, settings: Mapping[str, str]) -> None:
        del settings

    async def action_log(self, action_id: str, message: str) -> None:
        del action_id, message


def _remote() -> bus.UnitRemoteState:
    relation = bus.RelationRemote(
        id=1,
        endpoint="db",
        interface="mysql",
        role="requirer",
        remote_application="peer",
        units={"peer/0": 1},
        unit_data={"peer/0": {"host": "10.0.0.5", "port": "3306"}},
        local_unit_data={"private-address": "10.1.1.1"},
    )
    return bus.UnitRemoteState(
        unit=UNIT,
        application="hello",
        charm=bus.CharmRef(sha256="bench", name="hello"),
        config_hash="h",
        config={"greeting": "hello"},
        leader=True,
        relations=(relation,),
    )


def _context_for(hook: str, charm_dir: Path, log: _unitlog.UnitLog) -> _context.HookContext:
    hook_relation = _context.HookRelation(
        relation_id=1, endpoint="db", remote_unit="peer/0", remote_app="peer"
    )
    return _context.build(
        remote=_remote(),
        relations={1: _relations.RelationState(id=1, endpoint="db", remote_app="peer")},
        hook_relation=hook_relation if hook.startswith("db-") else None,
        relation_event="changed" if hook.startswith("db-") else "",
        pending=(),
        ports=(),
        id=f"{UNIT}-{hook}-bench",
        hook=hook,
        charm_dir=charm_dir,
        log=log,
        backend=_Backend(),
        model_uuid="00000000-0000-4000-8000-00000000bench",
    )


async def _time_process(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> float:
    """Wall seconds from spawn to exit; a failure aborts the benchmark."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}): {err.decode()}")
    return elapsed


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _row(label: str, samples: Sequence[float], floor: float | None = None) -> str:
    p50, p99 = _percentile(samples, 0.5) * 1e3, _percentile(samples, 0.99) * 1e3
    ratio = f"{p50 / (floor * 1e3):>7.1f}x" if floor else f"{'':>8}"
    return f"{label:<44} {p50:>8.2f} {p99:>8.2f} {ratio}"


async def _series(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, count: int
) -> list[float]:
    await _time_process(argv, env, cwd)  # warm the page cache
    return [await _time_process(argv, env, cwd) for _ in range(count)]


def _unit(work: Path, cache: Path) -> tuple[Path, _unitlog.UnitLog, hookrunner.UnitEnvironment]:
    """The `hello` charm unpacked under `work`, its unit log and its hook environment."""
    packed = charms.pack(REPO / "examples" / "charms" / "hello", cache)
    charm_dir = work / "charm"
    charms.unpack(packed.data, charm_dir)
    _toolserver.install_tools(work / "tools")
    log = _unitlog.UnitLog(work / "unit.log", UNIT)
    unit_env = hookrunner.UnitEnvironment(
        unit=UNIT,
        model_name="bench",
        model_uuid="00000000-0000-4000-8000-00000000bench",
        machine_id="0",
        charm_dir=charm_dir,
        tools_dir=work / "tools",
        socket_path=work / "run" / "agent.sock",
    )
    return charm_dir, log, unit_env


async def spawned_hooks(hook: str, count: int, cache: Path) -> list[float]:
    """Seconds per `hello` hook `hook` run serially as a process of its own (dispatch,
    python, `import ops`: no fork server), through the hook runner and a tool server."""
    work = Path(tempfile.mkdtemp(prefix="rc-bench-tools-"))
    try:
        charm_dir, log, unit_env = _unit(work, cache)
        async with _toolserver.ToolServer(unit_env.socket_path) as server:
            ran = await _hooks(server, unit_env, hook, charm_dir, log, count)
        log.close()
        return ran
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def run(calls: int, hooks: int, cache: Path) -> None:
    """Measure and print both tables."""
    work = Path(tempfile.mkdtemp(prefix="rc-bench-tools-"))
    try:
        charm_dir, log, unit_env = _unit(work, cache)
        _toolserver.install_tools(work / "tools-python", client="python")
        python_env = dataclasses.replace(unit_env, tools_dir=work / "tools-python")
        async with _toolserver.ToolServer(unit_env.socket_path) as server:
            await _tool_table(server, (unit_env, python_env), charm_dir, log, calls)
            await _hook_table(server, (unit_env, python_env), charm_dir, log, hooks)
        log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _tool_table(
    server: _toolserver.ToolServer,
    unit_envs: tuple[hookrunner.UnitEnvironment, hookrunner.UnitEnvironment],
    charm_dir: Path,
    log: _unitlog.UnitLog,
    calls: int,
) -> None:
    hook = "db-relation-changed"
    ctx = _context_for(hook, charm_dir, log)
    env = hookrunner.hook_environment(unit_envs[0], hook=hook, context_id=ctx.id)
    print(f"hook-tool calls (N = {calls} each; ms; ratio = p50 / p50 of /bin/true)")
    print(f"{'command':<44} {'p50':>8} {'p99':>8} {'ratio':>8}")
    true_samples = await _series(["/bin/true"], env, charm_dir, calls)
    floor = _percentile(true_samples, 0.5)
    print(_row("/bin/true", true_samples, floor), flush=True)
    with server.serving(ctx) as binding:
        binding.started(os.getpid())  # the calls are this process's children, as a hook's are
        for unit_env, client in zip(unit_envs, ("", " (python client)"), strict=True):
            for argv in TOOL_CALLS:
                samples = await _series(
                    [str(unit_env.tools_dir / argv[0]), *argv[1:]], env, charm_dir, calls
                )
                print(_row(" ".join(argv) + client, samples, floor), flush=True)


async def _hook_table(
    server: _toolserver.ToolServer,
    unit_envs: tuple[hookrunner.UnitEnvironment, hookrunner.UnitEnvironment],
    charm_dir: Path,
    log: _unitlog.UnitLog,
    hooks: int,
) -> None:
    hook = "update-status"
    env = dict(hookrunner.hook_environment(unit_envs[0], hook=hook, context_id="none"))
    python = shutil.which("python3", path=env["PATH"]) or "python3"
    bare = await _series([python, "-c", "pass"], env, charm_dir, hooks)
    env_ops = {**env, "PYTHONPATH": "lib:venv"}
    imported = await _series([python, "-c", "import ops"], env_ops, charm_dir, hooks)
    ran = [await _hooks(server, unit_env, hook, charm_dir, log, hooks) for unit_env in unit_envs]
    forks = _forkserver.ForkServer(
        unit_envs[0].socket_path.with_name("fork.sock"), log.path.with_name("fork.log")
    )
    try:
        forked = await _hooks(server, unit_envs[0], hook, charm_dir, log, hooks, forks)
    finally:
        await forks.close()
    print()
    print(f"ops hooks (N = {hooks} each, serial; ms; ratio = p50 / p50 of python3 -c pass)")
    print(f"{'process':<44} {'p50':>8} {'p99':>8} {'ratio':>8} {'per s':>7}")
    floor = _percentile(bare, 0.5)
    for label, samples in (
        ("python3 -c pass", bare),
        ('python3 -c "import ops"', imported),
        (f"ops hook `{hook}` (hello)", ran[0]),
        ("  the same, python client", ran[1]),
        ("  the same, forked from the fork server", forked),
    ):
        rate = len(samples) / sum(samples)
        print(f"{_row(label, samples, floor)} {rate:>7.1f}", flush=True)


async def _hooks(
    server: _toolserver.ToolServer,
    unit_env: hookrunner.UnitEnvironment,
    hook: str,
    charm_dir: Path,
    log: _unitlog.UnitLog,
    hooks: int,
    forks: _forkserver.ForkServer | None = None,
) -> list[float]:
    """Seconds per hook run through the hook runner, serially."""
    ran: list[float] = []
    for index in range(hooks + 1):
        ctx = _context_for(hook, charm_dir, log)
        ctx.id = f"{ctx.id}-{index}"
        hook_env = hookrunner.hook_environment(unit_env, hook=hook, context_id=ctx.id)
        start = time.perf_counter()
        with server.serving(ctx) as binding:  # it serves only the hook's process tree
            result = await hookrunner.run_hook(
                charm_dir=charm_dir,
                hook=hook,
                env=hook_env,
                log=log,
                forks=forks,
                on_start=binding.started,
            )
        if not result.ok:
            raise SystemExit(f"{hook} failed: {result.message}")
        if index:  # the first run creates ops' state database
            ran.append(time.perf_counter() - start)
    return ran


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="calls per hook tool")
    parser.add_argument("--hooks", type=int, default=30, help="hooks (and baseline processes)")
    parser.add_argument("--cache", type=Path, help="packing cache (default: a new temp dir)")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="rc-bench-cache-"))
    if args.calls < 1 or args.hooks < 1:
        raise SystemExit("--calls and --hooks must be at least 1")
    asyncio.run(run(args.calls, args.hooks, cache))


if __name__ == "__main__":
    main()
