"""Output: Juju-like tables for people, `--format json|yaml` for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["FORMAT_OPTION", "console", "emit", "err_console", "format_option", "status_tables"]


class _LazyConsole:
    """A rich Console made on first use: commands that print JSON never import rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415

            self._console = Console(**self._options)
        return getattr(self._console, name)


console = cast(
    "Console", _LazyConsole(highlight=False, width=None if sys.stdout.isatty() else 1000)
)
err_console = cast("Console", _LazyConsole(stderr=True, highlight=False, soft_wrap=True))


def format_option(
    default: str, *others: str, short: bool = False, help: str | None = None
) -> Callable[[_F], _F]:
    """The `--format` option (`-o` too with `short`): the command's own form by default,
    or one of the formats `emit` writes for programs."""
    flags = ("--format", "-o") if short else ("--format",)
    return click.option(
        *flags,
        "output_format",
        type=click.Choice([default, *others]),
        default=default,
        show_default=True,
        help=help,
    )


FORMAT_OPTION = format_option("tabular", "json", "yaml", help="Output format.")


def emit(document: Any, output_format: str) -> bool:
    """Print `document` as JSON or YAML; returns False for `tabular` (the caller draws)."""
    if output_format == "json":
        sys.stdout.write(json.dumps(document) + "\n")
        return True
    if output_format == "yaml":
        import yaml  # noqa: PLC0415

        sys.stdout.write(yaml.safe_dump(document, sort_keys=False))
        return True
    return False


_STATUS_STYLE = {
    "active": "green",
    "idle": "green",
    "started": "green",
    "blocked": "red",
    "error": "red",
    "failed": "red",
    "maintenance": "yellow",
    "waiting": "yellow",
    "executing": "yellow",
    "allocating": "yellow",
    "restarting": "yellow",
    "down": "red",
}


def _styled(word: str) -> str:
    style = _STATUS_STYLE.get(word)
    return f"[{style}]{word}[/{style}]" if style else word


def _table(*headers: str) -> Table:
    from rich.table import Table  # noqa: PLC0415

    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(
            header, no_wrap=True, justify="right" if header in {"Scale", "Rev"} else "left"
        )
    return table


def _by_number(name: str) -> tuple[str, int]:
    head, _, number = name.rpartition("/")
    return (head, int(number)) if number.isdigit() else (name, -1)


def _unit_row(
    table: Table, name: str, unit: dict[str, Any], indent: str = "", *, caas: bool = False
) -> None:
    """One unit (and its subordinates); on a k8s model no Machine cell, and the pod's
    address."""
    workload = unit.get("workload-status", {})
    agent = unit.get("juju-status", {})
    where = (
        [unit.get("address", "")]
        if caas
        else [unit.get("machine", ""), unit.get("public-address", "")]
    )
    table.add_row(
        indent + name + ("*" if unit.get("leader") else ""),
        _styled(workload.get("current", "")),
        _styled(agent.get("current", "")),
        *where,
        ",".join(unit.get("open-ports", [])),
        workload.get("message", "") or agent.get("message", ""),
    )
    for sub_name, sub in sorted(
        unit.get("subordinates", {}).items(), key=lambda item: _by_number(item[0])
    ):
        _unit_row(table, sub_name, sub, indent + "  ", caas=caas)


def _model_table(model: dict[str, Any], controller: dict[str, Any]) -> Table:
    """Juju's Model section; a broker that is not running is a note, as Juju notes what
    needs the user's attention (in colour on a terminal)."""
    from rich.markup import escape  # noqa: PLC0415

    broker = controller.get("broker-status", {})
    note = ""
    if broker.get("current", "running") != "running":
        note = f"broker {_styled(broker['current'])}"
        if broker.get("message"):
            note += f": {escape(broker['message'])}"
    columns = ("Model", "Controller", "Cloud/Region", "Version", "Timestamp")
    table = _table(*columns, *(("Notes",) if note else ()))
    table.add_row(
        model["name"],
        model.get("controller", ""),
        f"{model.get('cloud', '')}/{model.get('region', '')}",
        model.get("version", ""),
        controller.get("timestamp", ""),
        *((note,) if note else ()),
    )
    return table


def _saas_tables(saas: dict[str, Any]) -> list[Table]:
    """Juju's SAAS section: the offers this model consumes."""
    if not saas:
        return []
    table = _table("SAAS", "Status", "Store", "URL")
    for name, entry in sorted(saas.items()):
        current = entry.get("application-status", {}).get("current", "")
        table.add_row(name, _styled(current), "local", entry.get("url", ""))
    return [table]


def _offer_tables(offers: dict[str, Any]) -> list[Table]:
    """Juju's Offer section: one row per offered endpoint."""
    if not offers:
        return []
    table = _table("Offer", "Application", "Charm", "Connected", "Endpoint", "Interface", "Role")
    for name, offer in sorted(offers.items()):
        connected = f"{offer.get('active-connected-count', 0)}/"
        connected += str(offer.get("total-connected-count", 0))
        first = [name, offer.get("application", ""), offer.get("charm", ""), connected]
        for endpoint, spec in sorted(offer.get("endpoints", {}).items()):
            table.add_row(*first, endpoint, spec.get("interface", ""), spec.get("role", ""))
            first = ["", "", "", ""]  # Juju names the offer on its first endpoint only
    return [table]


def status_tables(status: dict[str, Any], *, relations: bool = False) -> list[Table]:
    """The sections `juju status` prints: Model, App, Unit and Machine (and with
    `relations`, Integration); sections absent from `status` are left out, and a k8s
    model's (type `caas`) have no machines: no Machine section, no Machine column. Colour
    is markup that the console drops when it does not write to a terminal."""
    tables = []
    model = status.get("model")
    caas = model is not None and model.get("type") == "caas"
    if model is not None:
        tables.append(_model_table(model, status.get("controller", {})))
    tables += _saas_tables(status.get("application-endpoints", {}))
    apps = status.get("applications", {})
    if apps:
        app_table = _table(
            "App", "Version", "Status", "Scale", "Charm", "Channel", "Rev", "Exposed", "Message"
        )
        where = ("Address",) if caas else ("Machine", "Public address")
        unit_table = _table("Unit", "Workload", "Agent", *where, "Ports", "Message")
        for name, app in sorted(apps.items()):
            app_status = app.get("application-status", {})
            units = app.get("units", {})
            app_table.add_row(
                name,
                app.get("version", ""),
                _styled(app_status.get("current", "")),
                str(app.get("scale", len(units))),
                app.get("charm-name", ""),
                app.get("charm-channel", ""),
                str(app.get("charm-rev", "")),
                "yes" if app.get("exposed") else "no",
                app_status.get("message", ""),
            )
            for unit_name, unit in sorted(units.items(), key=lambda item: _by_number(item[0])):
                _unit_row(unit_table, unit_name, unit, caas=caas)
        tables.append(app_table)
        if unit_table.row_count:
            tables.append(unit_table)
    machines = {} if caas else status.get("machines", {})
    if machines:
        machine_table = _table("Machine", "State", "Address", "Inst id", "Base", "AZ", "Message")
        for number, machine in sorted(machines.items(), key=lambda item: _by_number(item[0])):
            base = machine.get("base", {})
            agent = machine.get("juju-status", {})
            machine_table.add_row(
                number,
                _styled(agent.get("current", "")),
                machine.get("dns-name", ""),
                machine.get("instance-id", "")
                + (f" ({machine['container-type']})" if machine.get("container-type") else ""),
                f"{base.get('name', '')}@{base.get('channel', '')}" if base else "",
                machine.get("hardware", {}).get("availability-zone", "")
                if isinstance(machine.get("hardware"), dict)
                else "",
                agent.get("message", "") or machine.get("machine-status", {}).get("message", ""),
            )
        tables.append(machine_table)
    tables += _offer_tables(status.get("offers", {}))
    integrations = status.get("integrations", [])
    if relations and integrations:
        relation_table = _table("Integration provider", "Requirer", "Interface", "Type", "Message")
        for entry in integrations:
            relation_table.add_row(
                entry["provider"],
                entry["requirer"],
                entry["interface"],
                entry["type"],
                entry.get("life", ""),
            )
        tables.append(relation_table)
    return tables
