"""`rune hooks UNIT`: which hooks a unit ran, when, for how long, how they ended and why;
`rune show-hook UNIT ID`: one run with its environment and tool calls; `rune replay UNIT
ID`: that run again, locally, against its recorded context (see `_replay`)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from runecraft import errors
from runecraft.cli import _output
from runecraft.cli._common import _home, _model, _run
from runecraft.client import Client
from runecraft.schemas import exec as exec_schema
from runecraft.schemas import hooks as hook_schema

__all__ = ["hooks", "replay", "show_hook"]

_RUN_ID = click.IntRange(min=1, max=2**63 - 1)


def _when(started: float) -> str:
    return datetime.datetime.fromtimestamp(started, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ended(run: dict[str, Any]) -> str:
    code = run["exit_code"]
    return run["outcome"] if code is None else f"{run['outcome']} ({code})"


@click.command("hooks")
@click.argument("unit")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1, max=hook_schema.KEEP_PER_UNIT),
    default=20,
    show_default=True,
    help="How many of the newest runs.",
)
@_output.FORMAT_OPTION
def hooks(unit: str, limit: int, output_format: str) -> None:
    """List the hooks UNIT ran, oldest first: when, for how long, how each ended and why."""
    model = _model()

    async def runs(client: Client) -> list[dict[str, Any]]:
        found = await client.hook_runs(model, unit, limit=limit)
        return [run.model_dump(mode="json") for run in found]

    found = _run(runs)
    if _output.emit(found, output_format):
        return
    table = _output._table("ID", "Hook", "Started (UTC)", "Duration", "Ended", "Cause")
    for run in found:
        table.add_row(
            str(run["id"]),
            run["hook"],
            _when(run["started"]),
            f"{run['duration']:.3f}s",
            _ended(run),
            run["cause"]["summary"],
        )
    _output.console.print(table)


def _fetch(unit: str, run_id: int) -> hook_schema.HookRunDetail:
    model = _model()

    async def fetch(client: Client) -> hook_schema.HookRunDetail:
        return await client.hook_run(model, unit, run_id)

    return _run(fetch)


@click.command("show-hook")
@click.argument("unit")
@click.argument("run_id", metavar="ID", type=_RUN_ID)
@_output.format_option("yaml", "json", help="Output format.")
def show_hook(unit: str, run_id: int, output_format: str) -> None:
    """Show one hook run of UNIT (ID from `rune hooks`): its cause, environment and the
    hook-tool calls it made."""
    _output.emit(_fetch(unit, run_id).model_dump(mode="json"), output_format)


def _model_uuid() -> str:
    model = _model()

    async def show(client: Client) -> str:
        return (await client.show_model(model)).uuid

    return _run(show)


@click.command("replay")
@click.argument("unit")
@click.argument("run_id", metavar="ID", type=_RUN_ID)
@click.option(
    "--charm-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The charm to run (default: the unit's own, when it is on this machine).",
)
@click.option("--keep", is_flag=True, help="Keep the scratch directory the hook ran in.")
@click.option(
    "--live",
    is_flag=True,
    help="Run it on the unit itself, against the live model: its writes are committed.",
)
def replay(unit: str, run_id: int, charm_dir: Path | None, keep: bool, live: bool) -> None:
    """Run hook run ID of UNIT again, here, in a scratch copy of its charm, with its recorded
    environment; every hook tool answers from the calls the run recorded, so the live model
    is never changed (unless --live). Exits with the hook's exit code."""
    from runecraft.cli import _replay  # noqa: PLC0415 (only this command needs it)

    run = _fetch(unit, run_id)
    if run.hook == f"action {exec_schema.JUJU_EXEC}":
        raise errors.InvalidSpecError(
            f"run {run.id} of {unit} was a `rune exec` command, whose command is not recorded: "
            "replay runs hooks and actions"
        )
    if live:
        if charm_dir is not None or keep:
            raise errors.UsageError("--live runs on the unit: --charm-dir and --keep do not apply")
        _exit(_replay_live(unit, run, _replay.live_command(run)))
    if charm_dir is None:
        charm_dir = _replay.find_charm_dir(_home(), _model_uuid(), unit)
    redacted = sorted(
        name
        for name, value in run.env.items()
        if value == hook_schema.REDACTED and name != "JUJU_CONTEXT_ID"  # never needed
    )
    if redacted:
        sys.stderr.write(f"redacted in the record (replayed as such): {', '.join(redacted)}\n")
    if run.tool_calls_dropped:
        sys.stderr.write(
            f"{run.tool_calls_dropped} tool calls were beyond the record's bounds: "
            "the replay cannot answer them\n"
        )
    done = _replay.replay(run, charm_dir, keep=keep)
    recorded = "none" if run.exit_code is None else str(run.exit_code)
    sys.stderr.write(
        f"replayed {run.hook} (run {run.id} of {unit}): exit {done.exit_code}, recorded "
        f"{recorded}; {done.answered} tool calls answered from the record\n"
    )
    for call in done.unanswered:
        sys.stderr.write(f"  not in the record: {call}\n")
    _exit(done.exit_code)


def _exit(code: int) -> NoReturn:
    if code < 0:  # killed by a signal, as a shell reports it
        code = 128 - code
    if code > 255:
        raise errors.PermanentError(f"the hook exited {code}")
    sys.exit(code)


_LIVE_TIMEOUT = 300.0


def _replay_live(unit: str, run: hook_schema.HookRunDetail, command: str) -> int:
    """Run `command` on `unit` as a `juju-exec` task; print its output; its exit code."""
    from runecraft.cli._runtime import _await_tasks  # noqa: PLC0415

    model = _model()
    params = {"command": command, "timeout": _LIVE_TIMEOUT}

    async def go(client: Client) -> tuple[list[Any], bool]:
        queued = await client.run_action(model, [unit], exec_schema.JUJU_EXEC, params)
        return await _await_tasks(client, model, queued, _LIVE_TIMEOUT + 10.0)

    tasks, finished = _run(go)
    task = tasks[0]
    if not finished:
        raise errors.TemporaryError(f"live replay of run {run.id} on {unit} timed out")
    sys.stdout.write(str(task.results.get("stdout", "")))
    sys.stderr.write(str(task.results.get("stderr", "")))
    code = task.results.get("return-code")
    if not isinstance(code, int):
        raise errors.PermanentError(f"live replay of run {run.id} failed: {task.message}")
    sys.stderr.write(
        f"replayed {run.hook} live on {unit} (task {task.id}): exit {code}, recorded "
        f"{'none' if run.exit_code is None else run.exit_code}\n"
    )
    return code
