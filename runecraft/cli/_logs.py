"""`rune debug-log`: the model's logs, as `juju debug-log` shows them; and
`rune show-status-log`: the statuses a unit or application went through.

Lines come from the controller, which holds what every machine agent shipped (hook output
and `juju-log` of its units, and its own log) and what the controller itself logged about
the model (`-m controller`: all it logged), so the log is there after a unit or machine is
gone. Filters run in the controller; tailing is a long poll, not a poll loop.
"""

from __future__ import annotations

import contextlib

import click

from runecraft.cli import _output
from runecraft.cli._common import _model, _run
from runecraft.client import Client
from runecraft.schemas.logs import LogEntry, parse_entity, severity

__all__ = ["debug_log", "show_status_log"]

_WAIT = 25.0


def format_entry(entry: LogEntry, *, date: bool) -> str:
    """Juju's line: `unit-app-0: 12:34:56 INFO unit.app/0.juju-log message`."""
    when = entry.timestamp if date else entry.timestamp.rpartition(" ")[2]
    return f"{entry.entity}: {when} {entry.level} {entry.module} {entry.message}"


@click.command("debug-log")
@click.option(
    "--include",
    "-i",
    multiple=True,
    help="Only these units, applications, machines (or controller-0).",
)
@click.option(
    "--exclude",
    "-x",
    multiple=True,
    help="Not these units, applications, machines (or controller-0).",
)
@click.option("--level", "-l", default="TRACE", help="Lowest level shown (default TRACE).")
@click.option("--lines", "-n", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--replay", is_flag=True, help="Start from the oldest line kept.")
@click.option("--no-tail", is_flag=True, help="Print what is there and exit.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="Show the most recent N lines (0: all of them) and exit, as Juju does.",
)
@click.option("--date", is_flag=True, help="Show the date as well as the time.")
def debug_log(
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    level: str,
    lines: int,
    replay: bool,
    no_tail: bool,
    limit: int | None,
    date: bool,
) -> None:
    """Show the model's logs (units, machine agents, the controller's lines about the model;
    `-m controller` for all the controller's own), then follow new lines until interrupted."""
    severity(level)
    for value in (*include, *exclude):
        parse_entity(value)  # a bad entity is a usage error before any call
    model = _model()
    if limit is not None:  # Juju: the newest `limit` lines (0: all), then exit
        no_tail, replay, lines = True, limit == 0, limit

    async def follow(client: Client) -> None:
        after: int | None = 0 if replay else None
        first = True
        while True:
            page = await client.logs(
                model,
                include=list(include),
                exclude=list(exclude),
                level=level,
                after=after,
                last=None if replay else lines,
                limit=10_000,
                wait=0.0 if first or no_tail else _WAIT,
            )
            for entry in page.entries:
                click.echo(format_entry(entry, date=date))
            after = page.last
            if no_tail and not (replay and page.entries):
                return
            first = False

    with contextlib.suppress(KeyboardInterrupt):
        _run(follow)


@click.command("show-status-log")
@click.argument("entity")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["unit", "workload", "juju-unit", "application"]),
    help="Which statuses (default: unit for a unit, application for an application).",
)
@click.option("-n", "limit", type=click.IntRange(min=1, max=10_000), default=20, show_default=True)
@_output.FORMAT_OPTION
def show_status_log(entity: str, kind: str | None, limit: int, output_format: str) -> None:
    """Show the statuses ENTITY (a unit or an application) went through, oldest first."""
    model = _model()

    async def history(client: Client) -> list[dict[str, str]]:
        found = await client.status_log(model, entity, kind=kind, limit=limit)
        return [entry.model_dump() for entry in found]

    entries = _run(history)
    if _output.emit(entries, output_format):
        return
    table = _output._table("Time", "Type", "Status", "Message")
    for entry in entries:
        table.add_row(entry["since"], entry["type"], entry["status"], entry["message"])
    _output.console.print(table)
