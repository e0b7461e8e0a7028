"""Applications and units: `deploy`, `add-unit`, `remove-unit`,
`remove-application`, `config`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from runecraft import errors
from runecraft.cli import _charmhub, _juju, _output, _resources
from runecraft.cli._common import (
    _config_file,
    _config_values,
    _juju_flags,
    _key_values,
    _model,
    _pack,
    _run,
)
from runecraft.client import Client
from runecraft.schemas import api
from runecraft.schemas import storage as storage_schema

__all__ = ["add_unit", "config", "deploy", "remove_application", "remove_unit"]

BUNDLE_SUFFIXES = (".yaml", ".yml")
"""A `deploy` argument with one of these suffixes is a bundle, not a charm."""


@click.command()
@click.argument("charm", type=click.Path(path_type=Path))
@click.argument("application", required=False)
@click.option("--channel", help="For a Charmhub charm: the channel (default latest/stable).")
@click.option("--revision", type=click.IntRange(min=0), help="For a Charmhub charm: a revision.")
@click.option("--num-units", "-n", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--config", "config_items", multiple=True, help="KEY=VALUE, or a YAML file.")
@click.option("--to", "to", help="Placement, comma-separated: machine numbers, new, lxd or lxd:N.")
@click.option("--constraints", multiple=True, help="KEY=VALUE …: stored and shown (not enforced).")
@click.option("--base", help="NAME@CHANNEL, e.g. ubuntu@24.04: stored and shown.")
@click.option("--trust", is_flag=True, help="Trust the application (as `trust APP`).")
@click.option(
    "--overlay",
    "overlays",
    multiple=True,
    type=click.Path(path_type=Path),
    help="For a bundle: an overlay applied after it (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="For a bundle: show the plan, change nothing.")
@click.option("--storage", "storage_items", multiple=True, help="NAME=[POOL,]SIZE,COUNT.")
@click.option("--resource", "resource_items", multiple=True, help="NAME=PATH of a file resource.")
@click.option("--bind", help="Endpoint bindings: only the default space (alpha) is known.")
@click.option("--force", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--attach-storage", help="Not supported: refused when given.")
def deploy(
    charm: Path,
    application: str | None,
    num_units: int,
    config_items: tuple[str, ...],
    to: str | None,
    constraints: tuple[str, ...],
    base: str | None,
    trust: bool,
    overlays: tuple[Path, ...] = (),
    dry_run: bool = False,
    storage_items: tuple[str, ...] = (),
    resource_items: tuple[str, ...] = (),
    channel: str | None = None,
    revision: int | None = None,
    bind: str | None = None,
    force: bool = False,
    attach_storage: str | None = None,
) -> None:
    """Deploy a charm: a name on Charmhub (`RUNECRAFT_CHARMHUB_URL` names a mirror), or a
    local .charm file, packed directory or charm source tree; or a bundle (.yaml), as
    `rune apply` (with --dry-run, as `rune plan`)."""
    if charm.suffix in BUNDLE_SUFFIXES:
        from runecraft.cli import _bundle  # noqa: PLC0415 (bundles load only for a bundle)

        if dry_run:
            _bundle.plan_bundle(charm, overlays, ())
        else:
            _bundle.apply_bundle(charm, overlays, ())
        return
    _juju.deploy_settings(constraints, base, trust)  # refuse bad values before packing
    del force
    _unsupported_placement(bind, attach_storage)
    hub_name = _is_charmhub_charm(charm, channel, revision)
    values = _config_values(config_items, application)
    storage_schema.parse_directives(storage_items)  # refuse bad syntax before packing
    storage = dict(item.split("=", 1) for item in storage_items)
    resource_files = _resources.read_resources(resource_items)
    source, origin = charm, None
    if hub_name:
        release, source = _charmhub.fetch(str(charm), channel=channel, revision=revision, base=base)
        _output.err_console.print(_charmhub.origin_line(release), markup=False, highlight=False)
        origin = _charmhub.charm_origin(release, channel)
        base = base or f"{release.base.name}@{release.base.channel}"
    packed = _pack(source)
    name = application or packed.charm.meta.name
    if packed.charm.meta.subordinate:
        num_units = _subordinate_units(num_units, to)
    model = _model()

    async def go(client: Client) -> list[str]:
        info = await client.upload_charm(packed.data, model)
        uploaded = await _resources.upload_resources(client, resource_files, model)
        units = await client.deploy(
            model,
            api.DeployRequest(
                application=name,
                charm_sha256=info.sha256,
                num_units=num_units,
                config=values,
                to=[p for p in (to or "").split(",") if p],
                storage=storage,
                resources=uploaded,
                constraints=list(constraints),
                base=base or "",
                trust=trust,
                origin=origin,
            ),
        )
        return units

    units = _run(go)
    _output.err_console.print(
        f'Deployed "{name}" from {charm} with {len(units)} unit(s): {", ".join(units) or "-"}'
    )


def _is_charmhub_charm(charm: Path, channel: str | None, revision: int | None) -> bool:
    """True for a Charmhub name, False for a local charm; anything else refused by name."""
    hub_name = not charm.exists() and _charmhub.is_charmhub_name(str(charm))
    if not charm.exists() and not hub_name:
        raise errors.NotFoundError(
            f'charm "{charm}" not found: give the path of a local charm or a Charmhub name'
        )
    if not hub_name and (channel is not None or revision is not None):
        raise errors.UsageError(
            f'--channel and --revision are for Charmhub charms; "{charm}" is a local charm'
        )
    return hub_name


def _subordinate_units(num_units: int, to: str | None) -> int:
    """A subordinate is deployed without units: the default `-n 1` means none (as in
    Juju); any other count, or a placement, is refused."""
    if num_units == 1 and not to:
        return 0
    raise errors.UsageError("cannot use --num-units or --to with subordinate application")


_DEFAULT_SPACE = "alpha"
"""Juju's default network space, the only one Runecraft's machines are on."""


def _unsupported_placement(bind: str | None, attach_storage: str | None) -> None:
    """Refuse `--bind` to a space other than the default and `--attach-storage` (there is
    no detached storage to attach), naming what is not supported."""
    if attach_storage:
        raise errors.UsageError("--attach-storage is not supported: no storage is detached")
    for word in (bind or "").split():
        space = word.rpartition("=")[2]
        if space not in ("", _DEFAULT_SPACE):
            raise errors.InvalidSpecError(
                f'space "{space}" not found: the only space is "{_DEFAULT_SPACE}"'
            )


@click.command("add-unit")
@click.argument("application")
@click.option("--num-units", "-n", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--to", "to", help="Placement, comma-separated: machine numbers, new, lxd or lxd:N.")
@click.option("--attach-storage", help="Not supported: refused when given.")
def add_unit(application: str, num_units: int, to: str | None, attach_storage: str | None) -> None:
    """Add units to an application."""
    _unsupported_placement(None, attach_storage)
    model = _model()
    units = _run(
        lambda c: c.add_units(
            model, application, num_units, [p for p in (to or "").split(",") if p]
        )
    )
    _output.err_console.print(f"Added {', '.join(units)}")


@click.command("remove-unit")
@click.argument("units", nargs=-1, required=True)
@click.option(
    "--force", is_flag=True, help="Remove even if hooks fail (they are skipped as if resolved)."
)
@click.option(
    "--no-wait", is_flag=True, help="With --force: forget the units at once, hooks or not."
)
@_juju_flags("--no-prompt", "--destroy-storage")
@click.option(
    "--num-units",
    type=click.IntRange(min=1),
    help="Remove this many units of each APPLICATION given, highest numbered first "
    "(on k8s models, the only way: one APPLICATION).",
)
def remove_unit(units: tuple[str, ...], num_units: int | None, force: bool, no_wait: bool) -> None:
    """Remove units (they run their stop and remove hooks first): UNIT… on a machine
    model, or APPLICATION --num-units N."""
    model = _model()

    async def go(client: Client) -> str:
        info = await client.show_model(model)
        if info.type == "caas":
            application = k8s_removal(units, num_units)
            assert num_units is not None
            scaled = await client.scale_application(model, application, change=-num_units)
            return f"scaling down to {scaled.scale} units"
        if num_units is None:
            await client.remove_units(model, list(units), force=force, no_wait=no_wait)
            return f"Removing {', '.join(units)}"
        removed: list[str] = []
        for application in units:
            scaled = await client.scale_application(model, application, change=-num_units)
            removed += scaled.removed
        return f"Removing {', '.join(removed)}"

    _output.err_console.print(_run(go), markup=False)


def k8s_removal(given: Sequence[str], num_units: int | None) -> str:
    """The one application a k8s model's `remove-unit` scales down (Juju's rules: units
    are not removed by name there)."""
    if len(given) != 1:
        raise errors.UsageError("only single application supported")
    if "/" in given[0]:
        raise errors.UsageError(
            "k8s models do not support removing named units. "
            "Instead specify an application with --num-units."
        )
    if num_units is None:
        raise errors.UsageError("specify the number of units (> 0) to remove using --num-units")
    return given[0]


@click.command("remove-application")
@click.argument("applications", nargs=-1, required=True)
@_juju_flags("--no-prompt", "--destroy-storage", help=None)
@click.option(
    "--force", is_flag=True, help="Remove even if hooks fail (they are skipped as if resolved)."
)
@click.option(
    "--no-wait", is_flag=True, help="With --force: forget the units at once, hooks or not."
)
def remove_application(applications: tuple[str, ...], force: bool, no_wait: bool) -> None:
    """Remove applications with all their units."""
    model = _model()

    async def go(client: Client) -> None:
        for application in applications:
            await client.remove_application(model, application, force=force, no_wait=no_wait)

    _run(go)


@click.command()
@click.argument("application")
@click.argument("settings", nargs=-1)
@click.option("--reset", multiple=True, help="Comma-separated options to reset to default.")
@click.option("--file", "config_file", type=click.Path(path_type=Path), help="YAML settings file.")
@_output.format_option("yaml", "json")
def config(
    application: str,
    settings: tuple[str, ...],
    reset: tuple[str, ...],
    config_file: Path | None,
    output_format: str,
) -> None:
    """Show, get, set or reset application config (changes run config-changed)."""
    model = _model()
    reset_keys = [k for item in reset for k in item.split(",") if k]
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(_config_file(config_file, application))
    keys = [s for s in settings if "=" not in s]
    values.update(_key_values([s for s in settings if "=" in s], "setting"))
    if keys and (values or reset_keys or len(keys) > 1):
        raise errors.UsageError("give either one KEY to read, or KEY=VALUE pairs to set")
    if values or reset_keys:
        _run(lambda c: c.set_config(model, application, values, reset_keys))
        return
    document = _run(lambda c: _juju.config_document(c, model, application))
    if keys:
        option = document["settings"].get(keys[0])
        if option is None:
            raise errors.NotFoundError(
                f'unknown option "{keys[0]}" for application "{application}"'
            )
        value = option.get("value")
        click.echo(
            "" if value is None else (str(value).lower() if isinstance(value, bool) else value)
        )
        return
    _output.emit(document, output_format)
