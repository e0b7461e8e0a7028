"""The model's state: `status`, and `wait` until it settles."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence, Set
from typing import TYPE_CHECKING, Any

import click

from runecraft import errors
from runecraft.cli import _argv, _juju, _output, _wait
from runecraft.cli._common import _model, _read, _run
from runecraft.client import _wire

if TYPE_CHECKING:
    from runecraft.client import Client

__all__ = ["filter_status", "report_settled", "settle", "status", "wait"]


def _matches(name: str, patterns: Sequence[str]) -> bool:
    from fnmatch import fnmatchcase  # noqa: PLC0415 (only filtered status pays)

    return any(fnmatchcase(name, p) or fnmatchcase(name, f"{p}/*") for p in patterns)


def filter_status(document: dict[str, Any], patterns: Sequence[str]) -> dict[str, Any]:
    """Juju's `status PATTERN…`: the applications named (or with a unit named; then only
    those units), the machines named or hosting a unit kept, the integrations, SAAS and
    offers a kept application takes part in; `*` wildcards allowed."""
    applications: dict[str, Any] = {}
    hosts: set[str] = set()
    for name, app in document.get("applications", {}).items():
        units = app.get("units", {})
        if _matches(name, patterns):
            kept = units
        else:
            kept = {
                u: doc
                for u, doc in units.items()
                if _matches(u, patterns) or str(doc.get("machine", "")) in patterns
            }
            if not kept:
                continue
        applications[name] = {**app, "units": kept} if "units" in app else app
        hosts.update(str(doc["machine"]) for doc in kept.values() if doc.get("machine"))
    machines = {
        number: doc
        for number, doc in document.get("machines", {}).items()
        if number in hosts or number in patterns
    }
    filtered = {
        key: value
        for key, value in document.items()
        if key not in ("application-endpoints", "offers")
    }
    filtered |= {"applications": applications, "machines": machines}
    filtered |= _cross_model(document, applications.keys(), patterns)
    shown = applications.keys() | filtered.get("application-endpoints", {}).keys()
    if "integrations" in document:
        filtered["integrations"] = [
            entry
            for entry in document["integrations"]
            if {_application_of(entry["provider"]), _application_of(entry["requirer"])} & shown
        ]
    return filtered


def _cross_model(
    document: dict[str, Any], shown: Set[str], patterns: Sequence[str]
) -> dict[str, Any]:
    """Juju's filter of `application-endpoints` and `offers`: the SAAS named or related to
    a shown application, and the offers of a shown application; a section left empty is
    left out, as Juju leaves it out."""
    related: dict[str, set[str]] = {}
    for entry in document.get("integrations", []):
        ends = {_application_of(entry["provider"]), _application_of(entry["requirer"])}
        for name in ends:
            related.setdefault(name, set()).update(ends - {name})
    sections: dict[str, Any] = {}
    for name, saas in document.get("application-endpoints", {}).items():
        apps = {a for found in saas.get("relations", {}).values() for a in found}
        if _matches(name, patterns) or (apps | related.get(name, set())) & shown:
            sections.setdefault("application-endpoints", {})[name] = saas
    for name, offer in document.get("offers", {}).items():
        if offer.get("application") in shown:
            sections.setdefault("offers", {})[name] = offer
    return sections


def _application_of(endpoint: str) -> str:
    """`app` of an integration's `app:endpoint`."""
    return endpoint.partition(":")[0]


def _show_status(model: str, patterns: Sequence[str], output_format: str, relations: bool) -> None:
    document = _read(_wire.status_path(model), lambda c: c.status(model))
    document.get("model", {}).pop("generation", None)
    if patterns:
        document = filter_status(document, patterns)
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
@click.argument("patterns", nargs=-1)
@_output.FORMAT_OPTION
@click.option("--relations", is_flag=True, help="Also list the integrations (tabular).")
@click.option("--watch", "watch", help="Show the status again every INTERVAL (Go duration).")
def status(
    patterns: tuple[str, ...], output_format: str, relations: bool, watch: str | None
) -> None:
    """Show the model: applications, units and machines (and with --relations, the
    integrations); PATTERN… keeps the applications, units and machines named."""
    model = _model()
    if watch is None:
        _show_status(model, patterns, output_format, relations)
        return
    interval = _argv.parse_duration(watch)
    if interval <= 0:
        raise errors.UsageError(f'invalid --watch interval "{watch}": must be positive')
    while True:  # until interrupted, as Juju's `status --watch`
        _show_status(model, patterns, output_format, relations)
        sys.stdout.flush()
        time.sleep(interval)


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
