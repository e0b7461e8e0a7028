"""Juju's read-mostly commands: `show-application`, `show-machine`, `actions`,
`show-action`, `storage`, `expose`/`unexpose`, `controllers`, `show-controller` and
`help`, in Juju 3.6's shapes (YAML by default, `--format json` for programs)."""

from __future__ import annotations

from typing import Any

import click

from runecraft import errors
from runecraft.cli import _juju, _output
from runecraft.cli._common import _client_config, _model, _run
from runecraft.client import Client
from runecraft.schemas.juju import JUJU_VERSION

__all__ = [
    "actions",
    "controllers",
    "expose",
    "help_command",
    "show_action",
    "show_application",
    "show_controller",
    "show_machine",
    "storage",
    "unexpose",
]


def application_document(
    app: dict[str, Any], constraints: dict[str, Any], *, subordinate: bool
) -> dict[str, Any]:
    """Juju's `show-application` entry of one application, from its status entry."""
    base = app.get("base") or {}
    document: dict[str, Any] = {
        "charm": app["charm-name"],
        "base": f"{base['name']}@{base['channel']}" if base else "",
    }
    if app.get("charm-channel"):
        document["channel"] = app["charm-channel"]
    if constraints:
        document["constraints"] = constraints
    document |= {
        "principal": not subordinate,
        "exposed": bool(app.get("exposed")),
        "remote": False,
        "life": app.get("life") or "alive",
    }
    if app.get("endpoint-bindings"):
        document["endpoint-bindings"] = app["endpoint-bindings"]
    return document


@click.command("show-application")
@click.argument("applications", nargs=-1, required=True)
@_output.format_option("yaml", "json", help="Output format.")
def show_application(applications: tuple[str, ...], output_format: str) -> None:
    """Show applications: charm, base, constraints, whether principal and exposed."""
    model = _model()

    async def go(client: Client) -> dict[str, Any]:
        status = await client.status(model)
        found = status.get("applications", {})
        document: dict[str, Any] = {}
        for name in applications:
            if name not in found:
                raise errors.NotFoundError(f'application "{name}" not found')
            settings = await client.application_settings(model, name)
            subordinate = bool(found[name].get("subordinate-to"))
            document[name] = application_document(
                found[name], settings.constraints, subordinate=subordinate
            )
        return document

    _output.emit(_run(go), output_format)


@click.command("show-machine")
@click.argument("machines", nargs=-1, required=True)
@_output.format_option("yaml", "json", help="Output format.")
def show_machine(machines: tuple[str, ...], output_format: str) -> None:
    """Show machines as status does: `{model, machines: {N: …}}`."""
    for number in machines:
        if not number.isdigit():
            raise errors.InvalidSpecError(f'invalid machine "{number}": expected a number')
    model = _model()
    status = _run(lambda c: c.status(model))
    found = status.get("machines", {})
    missing = [n for n in machines if str(int(n)) not in found]
    if missing:
        raise errors.NotFoundError(f'machine "{missing[0]}" not found')
    document = {
        "model": status["model"]["name"],
        "machines": {str(int(n)): found[str(int(n))] for n in machines},
    }
    _output.emit(document, output_format)


@click.command()
@click.argument("application")
@click.option("--schema", is_flag=True, help="Show each action's parameters' JSON schema.")
@_output.format_option("default", "json", "yaml", help="Output format.")
def actions(application: str, schema: bool, output_format: str) -> None:
    """List the actions APPLICATION's charm defines (with --schema, their parameters)."""
    model = _model()
    schemas = _run(lambda c: c.charm_actions(model, application))
    if schema:
        _output.emit(schemas, "yaml" if output_format == "default" else output_format)
        return
    descriptions = {name: spec.get("description", "") for name, spec in schemas.items()}
    if _output.emit(descriptions, output_format):
        return
    if not descriptions:
        _output.err_console.print("No actions defined for " + application + ".", markup=False)
        return
    table = _output._table("Action", "Description")
    for name, description in descriptions.items():
        table.add_row(name, description)
    _output.console.print(table)


@click.command("show-action")
@click.argument("application")
@click.argument("action")
def show_action(application: str, action: str) -> None:
    """Show ACTION of APPLICATION's charm: its description and arguments."""
    import yaml  # noqa: PLC0415

    model = _model()
    schemas = _run(lambda c: c.charm_actions(model, application))
    if action not in schemas:
        known = ", ".join(schemas) or "none"
        raise errors.NotFoundError(
            f'unknown action "{action}" for application "{application}" (its actions: {known})'
        )
    spec = schemas[action]
    click.echo(spec.get("description") or "No description")
    if spec.get("properties"):
        click.echo("\nArguments:")
        click.echo(yaml.safe_dump(spec["properties"], sort_keys=True), nl=False)


@click.command()
@_output.format_option("tabular", "json", "yaml", help="Output format.")
def storage(output_format: str) -> None:
    """List the model's storage instances (Juju's `storage`, `filesystems`, `volumes`)."""
    model = _model()
    status = _run(lambda c: c.status(model))
    document = {k: status[k] for k in ("storage", "filesystems", "volumes") if k in status}
    if _output.emit(document, output_format):
        return
    if not document:
        _output.err_console.print("No storage to display.")
        return
    table = _output._table("Unit", "Storage ID", "Type", "Size", "Status")
    sizes = {
        entry["storage"]: entry["size"]
        for section in ("filesystems", "volumes")
        for entry in document.get(section, {}).values()
    }
    for storage_id, entry in document["storage"].items():
        for unit in entry["attachments"]["units"]:
            size = sizes.get(storage_id)
            table.add_row(
                unit,
                storage_id,
                entry["kind"],
                f"{size}MiB" if size is not None else "",
                entry["status"]["current"],
            )
    _output.console.print(table)


def _set_exposed(application: str, exposed: bool) -> None:
    model = _model()
    _run(lambda c: c.set_application_settings(model, application, exposed=exposed))


@click.command()
@click.argument("application")
def expose(application: str) -> None:
    """Mark APPLICATION exposed (`exposed: true` in status; the local substrates, which
    have no firewall, open nothing more)."""
    _set_exposed(application, True)


@click.command()
@click.argument("application")
def unexpose(application: str) -> None:
    """Mark APPLICATION not exposed."""
    _set_exposed(application, False)


async def _controller_facts(client: Client) -> dict[str, Any]:
    info = await client.controller()
    models = await client.models()
    machines = 0
    for model in models:
        machines += len((await client.status(model.name)).get("machines", {}))
    return {"info": info, "models": models, "machines": machines}


def _endpoint() -> str:
    """`host:port` of the controller's API, as Juju lists `api-endpoints`."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    url = urlsplit(_client_config().endpoint)
    return url.netloc


@click.command()
@_output.format_option("tabular", "json", "yaml", help="Output format.")
def controllers(output_format: str) -> None:
    """List the controllers this client knows (the one of this home)."""
    config = _client_config()
    facts = _run(_controller_facts)
    document = {
        "controllers": {
            config.controller: {
                "current-model": f"{config.user}/{config.model}",
                "user": config.user,
                "access": "superuser",
                "recent-server": _endpoint(),
                "uuid": facts["info"].uuid,
                "api-endpoints": [_endpoint()],
                "cloud": config.cloud,
                "agent-version": JUJU_VERSION,
                "model-count": len(facts["models"]),
                "machine-count": facts["machines"],
                "controller-machines": {"Active": 1, "Total": 1},
            }
        },
        "current-controller": config.controller,
    }
    if _output.emit(document, output_format):
        return
    table = _output._table("Controller", "Model", "User", "Access", "Models", "Machines", "Version")
    table.add_row(
        f"{config.controller}*",
        config.model,
        config.user,
        "superuser",
        str(len(facts["models"])),
        str(facts["machines"]),
        JUJU_VERSION,
    )
    _output.console.print(table)


@click.command("show-controller")
@click.argument("names", nargs=-1)
@_output.format_option("yaml", "json", help="Output format.")
def show_controller(names: tuple[str, ...], output_format: str) -> None:
    """Show the controller: its details, its models and this client's account."""
    for name in names:
        _juju.check_controller(name)
    config = _client_config()
    facts = _run(_controller_facts)
    info = facts["info"]
    document = {
        config.controller: {
            "details": {
                "uuid": info.uuid,
                "controller-uuid": info.uuid,
                "api-endpoints": [_endpoint()],
                "cloud": config.cloud,
                "agent-version": JUJU_VERSION,
                "ca-cert": config.ca_cert or "",
            },
            "controller-machines": {"0": {"instance-id": "local", "ha-status": "ha-none"}},
            "models": {
                model.name: {"uuid": model.uuid, "model-uuid": model.uuid}
                for model in facts["models"]
            },
            "current-model": f"{config.user}/{config.model}",
            "account": {"user": config.user, "access": "superuser"},
        }
    }
    _output.emit(document, output_format)


@click.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx: click.Context, command: str | None) -> None:
    """Show help on a command (`help COMMAND` is `COMMAND --help`)."""
    group = ctx.parent.command if ctx.parent is not None else None
    if not isinstance(group, click.Group) or ctx.parent is None:
        raise errors.UsageError("help is only available as a subcommand")
    if command is None:
        click.echo(group.get_help(ctx.parent))
        return
    found = group.get_command(ctx.parent, command)
    if found is None:
        raise errors.UsageError(f'unknown command "{command}": see "help" for the commands')
    with click.Context(found, info_name=command, parent=ctx.parent) as sub:
        click.echo(found.get_help(sub))
