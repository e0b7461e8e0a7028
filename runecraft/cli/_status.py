"""The model's state: `status`, and `wait` until it settles."""

from __future__ import annotations

import sys
import time

import click

from runecraft import errors
from runecraft.cli import _argv, _juju, _output, _wait
from runecraft.cli._common import (
    _model,
    _run,
)
from runecraft.client import Client

__all__ = ["status", "wait"]


@click.command()
@_output.FORMAT_OPTION
@click.option("--relations", is_flag=True, help="Also list the integrations (tabular).")
def status(output_format: str, relations: bool) -> None:
    """Show the model: applications, units and machines (and with --relations, the
    integrations)."""
    model = _model()
    document = _run(lambda c: c.status(model))
    document.get("model", {}).pop("generation", None)
    document.setdefault("controller", {"timestamp": _juju.timestamp()})
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
        deadline = time.monotonic() + limit
        document = await client.status(model)
        verdict = _wait.judge(document, applications)
        from rich.live import Live  # noqa: PLC0415 (rich only where something is drawn)

        live = Live(console=_output.err_console, transient=True) if sys.stderr.isatty() else None
        try:
            if live is not None:
                live.start()
            while verdict.state == "pending":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise errors.TemporaryError(
                        f"timed out after {timeout} waiting for model {model} to settle: "
                        f"{verdict.message}"
                    )
                if live is not None:
                    live.update(
                        f"waiting: {verdict.units_ready}/{verdict.units_total} units ready — "
                        f"{verdict.message}"
                    )
                generation = int(document["model"].get("generation", -1))
                document = await client.status(
                    model, after=generation, timeout=min(remaining, 10.0)
                )
                verdict = _wait.judge(document, applications)
        finally:
            if live is not None:
                live.stop()
        return verdict

    verdict = _run(go)
    if verdict.state == "error":
        raise errors.PermanentError(verdict.message)
    _output.err_console.print(f"Model {model} is settled: {verdict.message}")
