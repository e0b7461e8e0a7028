"""Juju's `show-model`, `show-unit`, `scale-application` (alias `scale`), `trust`,
`constraints`, `set-constraints`, `model-constraints` and `set-model-constraints`, with
the JSON shapes jubilant parses."""

from __future__ import annotations

from typing import Any

import click

from runecraft import errors
from runecraft.cli import _argv, _juju, _output
from runecraft.cli._common import _model, _run
from runecraft.client import Client
from runecraft.schemas.constraints import format_constraints, parse_constraints
from runecraft.schemas.juju import JUJU_VERSION

__all__ = [
    "constraints",
    "model_constraints",
    "scale_application",
    "set_constraints",
    "set_model_constraints",
    "show_model",
    "show_unit",
    "trust",
]


def model_document(
    name: str,
    uuid: str,
    cloud: str,
    life: str,
    controller: str,
    controller_uuid: str,
    model_type: str = "iaas",
) -> dict[str, Any]:
    """Juju's `show-model` document of one model (the local cloud's only user is admin):
    `model-type` is iaas or caas, `type` the cloud's provider type (a built-in cloud's
    name is its type; the clouds operators add are Kubernetes)."""
    return {
        name: {
            "name": f"admin/{name}",
            "short-name": name,
            "model-uuid": uuid,
            "model-type": model_type,
            "controller-uuid": controller_uuid,
            "controller-name": controller,
            "is-controller": False,
            "owner": "admin",
            "cloud": cloud,
            "region": "default",
            "type": "kubernetes" if model_type == "caas" else cloud,
            "life": life,
            "status": {"current": "available" if life == "alive" else "destroying"},
            "users": {
                "admin": {"display-name": "admin", "access": "admin", "last-connection": "never"}
            },
            "agent-version": JUJU_VERSION,
        }
    }


@click.command("show-model")
@click.argument("name", required=False)
@_output.format_option("yaml", "json", help="Output format.")
def show_model(name: str | None, output_format: str) -> None:
    """Show a model ([CONTROLLER:][USER/]MODEL; default: the current one)."""
    model = _argv.model_name(name) if name else _model()
    controller = _juju.check_controller(name.partition(":")[0] if name and ":" in name else None)

    async def go(client: Client) -> dict[str, Any]:
        info = await client.show_model(model)
        ctrl = await client.controller()
        return model_document(
            info.name, info.uuid, info.cloud, info.life, controller, ctrl.uuid, info.type
        )

    _output.emit(_run(go), output_format)


@click.command("show-unit")
@click.argument("units", nargs=-1, required=True)
@_output.format_option("yaml", "json", help="Output format.")
def show_unit(units: tuple[str, ...], output_format: str) -> None:
    """Show units: charm, leadership, addresses and the data of each of their relations."""
    model = _model()

    async def go(client: Client) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for unit in units:
            document.update(await client.show_unit(model, unit))
        return document

    _output.emit(_run(go), output_format)


@click.command("scale-application")
@click.argument("application")
@click.argument("scale", type=click.IntRange(min=0))
def scale_application(application: str, scale: int) -> None:
    """Add or remove units until APPLICATION has SCALE of them, removing the highest
    numbered first (alias: scale)."""
    model = _model()
    _run(lambda c: c.scale_application(model, application, scale=scale))
    _output.err_console.print(f"{application} scaled to {scale} units", markup=False)


@click.command()
@click.argument("application")
@click.option("--remove", is_flag=True, help="Withdraw the trust.")
@click.option("--scope", type=click.Choice(["cluster"]), help="Accepted for Juju compatibility.")
def trust(application: str, remove: bool, scope: str | None) -> None:
    """Trust APPLICATION with the cloud credential (shown as `trust` in its config)."""
    del scope
    model = _model()
    _run(lambda c: c.set_application_settings(model, application, trust=not remove))


@click.command()
@click.argument("application")
@_output.format_option("constraints", "json", "yaml")
def constraints(application: str, output_format: str) -> None:
    """Show the constraints of APPLICATION (`mem=4096M cores=2`)."""
    model = _model()
    settings = _run(lambda c: c.application_settings(model, application))
    if not _output.emit(settings.constraints, output_format):
        click.echo(format_constraints(settings.constraints))


@click.command("set-constraints")
@click.argument("application")
@click.argument("items", nargs=-1, required=True)
def set_constraints(application: str, items: tuple[str, ...]) -> None:
    """Replace the constraints of APPLICATION with KEY=VALUE pairs (`mem=4G cores=2`)."""
    try:
        parse_constraints(items)
    except ValueError as exc:
        raise errors.InvalidSpecError(str(exc)) from exc
    model = _model()
    _run(lambda c: c.set_application_settings(model, application, constraints_items=list(items)))


@click.command("model-constraints")
@_output.format_option("constraints", "json", "yaml")
def model_constraints(output_format: str) -> None:
    """Show the model's constraints (`mem=4096M cores=2`; JSON: sizes in MiB)."""
    model = _model()
    found = _run(lambda c: c.model_constraints(model))
    if not _output.emit(found, output_format):
        click.echo(format_constraints(found))


@click.command("set-model-constraints")
@click.argument("items", nargs=-1, required=True)
def set_model_constraints(items: tuple[str, ...]) -> None:
    """Replace the model's constraints with KEY=VALUE pairs (`mem=4G cores=2`)."""
    try:
        parse_constraints(items)
    except ValueError as exc:
        raise errors.InvalidSpecError(str(exc)) from exc
    model = _model()
    _run(lambda c: c.set_model_constraints(model, list(items)))
