"""The model's state: `status`, and `wait` until it settles."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from runecraft import errors
from runecraft.cli import _argv, _juju, _output, _wait
from runecraft.cli._common import _model, _read, _run
from runecraft.client import _wire

if TYPE_CHECKING:
    from runecraft.client import Client

__all__ = ["report_settled", "settle", "status", "wait"]


@click.command()
@_output.FORMAT_OPTION
@click.option("--relations", is_flag=True, help="Also list the integrations (tabular).")
def status(output_format: str, relations: bool) -> None:
    """Show the model: applications, units and machines (and with --relations, the
    integrations)."""
    model = _model()
    document = _read(_wire.status_path(model), lambda c: c.status(model))
    document.get("model", {}).pop("generation", None)
    # Juju's `controller` holds the timestamp; ours also the broker's state (`broker-status`).
    document["controller"] = {"timestamp": _juju.timestamp(), **document.get("controller", {})}
    for app in document.get("applications", {}).values():
        if "subordinate-to" in app:  # Juju shows a subordinate's units under its principals'
            app.pop("units", None)
    if _output.emit(document, output_format):
        return
    for table in _output.status_tables(document, relations=relations):
        _output.console.print(table)
        _output.console.print()
    if not document.get("applications") and not document.get("machines"):
        _output.err_console.print(f'Model "admin/{model}" is empty.', markup=False)


@click.command()
@click.argument("applications", nargs=-1)
@click.option("--timeout", "timeout", default="10m", show_default=True, help="Go duration.")
def wait(applications: tuple[str, ...], timeout: str) -> None:
    """Wait until every (or each named) application is active and idle.

    Exits 0 when settled, 1 on an error status or at the timeout.
    """
    model = _model()
    limit = _argv.parse_duration(timeout)

    async def go(client: Client) -> _wait.Verdict:
        from rich.live import Live  # noqa: PLC0415 (rich only where something is drawn)

        if not sys.stderr.isatty():
            return await settle(client, model, applications, limit, timeout)
        with Live(console=_output.err_console, transient=True) as live:
            return await settle(client, model, applications, limit, timeout, live.update)

    report_settled(model, _run(go))


async def settle(
    client: Client,
    model: str,
    applications: Sequence[str],
    limit: float,
    timeout: str,
    progress: Callable[[str], None] = lambda _: None,
) -> _wait.Verdict:
    """Follow the model's status until it is judged ready or in error, telling `progress`
    what it waits on; exit 1 (`timed out after TIMEOUT`) after `limit` seconds."""
    deadline = time.monotonic() + limit
    document = await client.status(model)
    verdict = _wait.judge(document, applications)
    while verdict.state == "pending":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.TemporaryError(
                f"timed out after {timeout} waiting for model {model} to settle: {verdict.message}"
            )
        progress(
            f"waiting: {verdict.units_ready}/{verdict.units_total} units ready — {verdict.message}"
        )
        generation = int(document["model"].get("generation", -1))
        document = await client.status(model, after=generation, timeout=min(remaining, 10.0))
        verdict = _wait.judge(document, applications)
    return verdict


def report_settled(model: str, verdict: _wait.Verdict) -> None:
    """Exit 1 on an error status; otherwise say the model is settled."""
    if verdict.state == "error":
        raise errors.PermanentError(verdict.message)
    _output.err_console.print(f"Model {model} is settled: {verdict.message}")
