"""`audit-log`: who made which mutating API call, when, and how it ended."""

from __future__ import annotations

import datetime

import click
from rich.text import Text

from runecraft.cli import _argv, _output
from runecraft.cli._common import _run
from runecraft.schemas.audit import MAX_AUDIT_LIMIT

__all__ = ["audit_log"]


def _when(at: float) -> str:
    moment = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@click.command("audit-log")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_AUDIT_LIMIT),
    default=50,
    show_default=True,
    help="How many of the newest entries.",
)
@_output.format_option("tabular", "json", "yaml", help="Output format.")
def audit_log(limit: int, output_format: str) -> None:
    """The controller's audit log of mutating API calls, oldest first; with `-m MODEL`,
    only the calls on that model."""
    given = _argv.MODEL_FROM_ARGV[0]
    model = _argv.model_name(given) if given else None
    page = _run(lambda c: c.audit_log(limit=limit, model=model))
    if _output.emit(page.model_dump(mode="json")["entries"], output_format):
        return
    table = _output._table("Time (UTC)", "Principal", "Method", "Route", "Model", "Status")
    for entry in page.entries:
        outcome = str(entry.status) + (f" {entry.error}" if entry.error else "")
        table.add_row(
            _when(entry.at),
            Text(entry.principal),
            entry.method,
            Text(entry.route),
            Text(entry.model or "-"),
            outcome,
        )
    _output.console.print(table)
