"""`rune exec`: run a command on units in hook context, as `juju exec` does.

The command is queued on each unit as a `juju-exec` task (so it runs serialised with the
unit's hooks, with the `JUJU_*` environment, the hook tools on PATH and the charm dir as
cwd) and the tasks' `return-code`, `stdout` and `stderr` are printed in Juju's shape.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import click

from runecraft import errors
from runecraft.cli import _argv, _output
from runecraft.cli._common import _home, _model
from runecraft.cli._common import _run as _call
from runecraft.cli._runtime import _await_tasks, _report_tasks, run_tasks
from runecraft.cli._ssh import Host, host_of
from runecraft.client import Client
from runecraft.schemas import api
from runecraft.schemas import exec as exec_schema
from runecraft.schemas.ssh_target import parse_target

__all__ = ["exec_command", "exec_failure"]

_SLACK = 10.0
"""Seconds the CLI waits beyond the command's own timeout (queueing behind a hook)."""


def _names(values: Sequence[str]) -> list[str]:
    return [name for value in values for name in value.split(",") if name]


def _targets(units: Sequence[str], applications: Sequence[str]) -> list[str]:
    """The units and applications to run on (comma-separated values split), checked."""
    for name in _names(units):
        if "/" not in name:
            raise errors.UsageError(f'invalid unit name "{name}": expected APPLICATION/NUMBER')
    for name in _names(applications):
        if "/" in name:
            raise errors.UsageError(f'invalid application name "{name}"')
    targets = _names(units) + _names(applications)
    if not targets:
        raise errors.UsageError("no target: give --unit or --application")
    return targets


def exec_failure(tasks: Sequence[api.ActionInfo]) -> str | None:
    """Juju's `the following task failed` text when a command failed or exited non-zero
    (jubilant matches `task failed` and still reads stdout); None when all succeeded."""
    lines = []
    for task in tasks:
        code = task.results.get("return-code")
        if task.status == "completed" and code in (0, None):
            continue
        detail = f" with return code {code}" if code not in (0, None) else ""
        if task.message:
            detail += f": {task.message}"
        lines.append(f' id "{task.id}"{detail}')
    if not lines:
        return None
    return (
        "the following task failed:\n"
        + "\n".join(lines)
        + "\n\nuse 'rune show-task' to inspect the failure"
    )


def _run_on_host(host: Host, command: str, limit: float) -> dict[str, Any]:
    """Run `command` as a shell line on the machine's host: its return code and output."""
    if host.kind == "local":
        argv, cwd = ["bash", "-c", command], host.where
    elif host.kind == "lxd":
        argv, cwd = ["lxc", "exec", host.where, "--", "bash", "-c", command], None
    else:
        target = parse_target(host.where)
        login = ["-p", str(target.port), f"{target.user}@{target.host}"]
        argv, cwd = ["ssh", "-o", "BatchMode=yes", *login, command], None
    try:
        done = subprocess.run(
            argv, check=False, cwd=cwd, capture_output=True, text=True, timeout=limit
        )
    except subprocess.TimeoutExpired as exc:
        raise errors.TemporaryError(f"timed out waiting for results from: {host.where}") from exc
    results: dict[str, Any] = {"return-code": done.returncode}
    if done.stdout:
        results["stdout"] = done.stdout
    if done.stderr:
        results["stderr"] = done.stderr
    return results


def _exec_on_machines(
    numbers: list[str], every: bool, command: tuple[str, ...], limit: float, output_format: str
) -> None:
    """`exec --machine N` / `--all`: the command runs on each machine's host, outside any
    unit's hook context (as Juju runs it), and is reported in `exec`'s shape."""
    for number in numbers:
        if not number.isdigit():
            raise errors.InvalidSpecError(f'invalid machine "{number}": expected a number')
    model = _model()
    status = _call(lambda c: c.status(model))
    chosen = sorted(status.get("machines", {}), key=int) if every else numbers
    if not chosen:
        raise errors.NotFoundError(f'model "{model}" has no machines')
    hosts = {number: host_of(status, number, _home()) for number in chosen}  # all, first
    document: dict[str, Any] = {}
    failed: list[str] = []
    for number, host in hosts.items():
        results = _run_on_host(host, " ".join(command), limit)
        document[number] = {
            "id": number,
            "machine": number,
            "status": "completed",
            "results": results,
        }
        if results["return-code"] != 0:
            failed.append(f' machine "{number}" with return code {results["return-code"]}')
    if not _output.emit(document, output_format):
        for entry in document.values():
            sys.stdout.write(entry["results"].get("stdout", ""))
            sys.stderr.write(entry["results"].get("stderr", ""))
    if failed:
        raise errors.PermanentError("the following task failed:\n" + "\n".join(failed))


@click.command("exec")
@click.argument("command", nargs=-1, required=True)
@click.option("--unit", "-u", "units", multiple=True, help="Unit(s), comma-separated.")
@click.option(
    "--application", "-a", "applications", multiple=True, help="Every unit of application(s)."
)
@click.option("--machine", "machines", multiple=True, help="Machine(s), comma-separated.")
@click.option("--all", "all_machines", is_flag=True, help="Every machine of the model.")
@click.option("--wait", "wait", help="How long the command may run (Go duration; default 5m).")
@click.option("--timeout", "timeout", help="Alias of --wait.")
@click.option("--background", is_flag=True, help="Queue the command and return at once.")
@_output.format_option("plain", "json", "yaml", short=True)
def exec_command(
    command: tuple[str, ...],
    units: tuple[str, ...],
    applications: tuple[str, ...],
    machines: tuple[str, ...],
    all_machines: bool,
    wait: str | None,
    timeout: str | None,
    background: bool,
    output_format: str,
) -> None:
    """Run COMMAND on units in hook context: rune exec --unit U | --application A -- CMD…;
    or on machines' hosts, outside hook context: --machine N | --all.

    Exits 1 when a command failed or exited non-zero (`task failed` on stderr) and at the
    time limit (`timed out`).
    """
    if wait and timeout:
        raise errors.UsageError("give --wait or --timeout, not both")
    spelled = wait or timeout
    limit = _argv.parse_duration(spelled) if spelled else exec_schema.DEFAULT_TIMEOUT
    if limit <= 0:
        raise errors.UsageError(f'invalid duration "{spelled}": must be positive')
    if machines or all_machines:
        if units or applications:
            raise errors.UsageError("give --machine/--all or --unit/--application, not both")
        _exec_on_machines(_names(machines), all_machines, command, limit, output_format)
        return
    targets = _targets(units, applications)
    params = {"command": " ".join(command), "timeout": limit}
    model = _model()

    async def go(client: Client) -> tuple[list[api.ActionInfo], bool]:
        queued = await client.run_action(model, targets, exec_schema.JUJU_EXEC, params)
        if background:
            for task in queued:
                _output.err_console.print(f"Running task {task.id} on {task.unit}", markup=False)
            return queued, True
        return await _await_tasks(client, model, queued, limit + _SLACK)

    ran = run_tasks(go)
    if ran is not None and not background:
        _report_tasks(*ran, output_format, exec_failure)
