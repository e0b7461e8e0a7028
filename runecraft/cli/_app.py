"""The `rune` command line: Juju's verbs and flags where they overlap."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.live import Live

from runecraft import __version__, errors
from runecraft.cli import _argv, _config, _juju, _output, _runtime, _show, _wait
from runecraft.cli._common import (
    _MODEL_FROM_ARGV,
    _client_config,
    _config_file,
    _home,
    _key_values,
    _model,
    _pack,
    _run,
)
from runecraft.client import Client
from runecraft.controller import _lifecycle
from runecraft.controller.providers import provider_names
from runecraft.schemas import api
from runecraft.schemas import storage as storage_schema
from runecraft.settings import home_settings

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rune")
def cli() -> None:
    """Runecraft: deploy, integrate and scale Juju charms on any substrate.

    Every command takes `-m/--model MODEL` anywhere on its line.
    """


# --- controller --------------------------------------------------------------------------


@cli.command()
@click.argument("cloud", required=False, default="local")
@click.argument("name", required=False, default="runecraft")
@click.option("--database", help="SQLAlchemy URL (default: SQLite in the home).")
@click.option(
    "--broker",
    help="embedded (default), mosquitto[:PORT] (run by Runecraft), or mqtt://[user:pw@]host:port.",
)
@click.option("--api-port", type=int, help="API port (default: a free port).")
@click.option(
    "--listen-address",
    help="IP address the API and broker listen on and agents dial (a bridge or LAN address "
    "for LXD containers and SSH machines). Default: 127.0.0.1, or for the lxd cloud the "
    "address of its bridge.",
)
@click.option("--no-switch", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--config", "config_items", multiple=True, help="KEY=VALUE model config of default.")
@click.option("--model-default", multiple=True, help="KEY=VALUE model config of default.")
@click.option("--constraints", multiple=True, help="KEY=VALUE model constraints of default.")
@click.option("--bootstrap-base", help="Accepted (checked) for Juju compatibility.")
@click.option("--bootstrap-constraints", multiple=True, help="Accepted (checked) for Juju.")
@click.option("--credential", help="Accepted for Juju compatibility.")
@click.option("--force", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--storage-pool", multiple=True, help="Not supported: refused when given.")
@click.option("--to", "placement", help="Not supported: refused when given.")
def bootstrap(
    cloud: str,
    name: str,
    database: str | None,
    broker: str | None,
    api_port: int | None,
    listen_address: str | None,
    no_switch: bool,
    config_items: tuple[str, ...],
    model_default: tuple[str, ...],
    constraints: tuple[str, ...],
    bootstrap_base: str | None,
    bootstrap_constraints: tuple[str, ...],
    credential: str | None,
    force: bool,
    storage_pool: tuple[str, ...],
    placement: str | None,
) -> None:
    """Start a controller in this home (RUNECRAFT_HOME) and add the `default` model.

    Juju's `--config`/`--model-default` become the default model's config and
    `--constraints` its constraints; all are checked before anything starts.
    """
    del no_switch, credential, force
    if cloud not in provider_names():
        known = ", ".join(provider_names())
        raise errors.InvalidSpecError(f'unknown cloud "{cloud}": known clouds are: {known}')
    if storage_pool or placement:
        flag = "--storage-pool" if storage_pool else "--to"
        raise errors.InvalidSpecError(f"bootstrap {flag} is not supported yet")
    model_config: dict[str, Any] = {
        **_key_values(model_default, "model default"),
        **_key_values(config_items, "config"),
    }
    _juju.deploy_settings((*constraints, *bootstrap_constraints), bootstrap_base, False)
    if listen_address is None:
        listen_address = _lxd.lxd_bridge_address() if cloud == "lxd" else "127.0.0.1"
    home = _home()
    with _output.err_console.status("bootstrapping") as spinner:
        config = _lifecycle.bootstrap(
            home,
            name=name,
            database=database,
            broker=broker,
            api_port=api_port,
            host=listen_address,
            progress=spinner.update,
        )
        endpoint = f"http://{config.api_host}:{config.api_port}"
        client_config = _config.ClientConfig(
            controller=config.name, endpoint=endpoint, token=config.admin_token
        )
        _config.save(home_settings().client_config, client_config)

        async def add_default(client: Client) -> None:
            await client.add_model("default", cloud, model_config)
            if constraints:
                await client.set_model_constraints("default", list(constraints))

        try:
            _run(add_default)
        except errors.RunecraftError:
            _lifecycle.kill(home, config.name)
            home_settings().client_config.unlink(missing_ok=True)
            raise
    _output.err_console.print(
        f'Controller "{config.name}" is up at {endpoint} (broker: {config.broker.kind}); '
        'model "default" added.'
    )


@cli.command("kill-controller")
@click.argument("name")
@click.option("--no-prompt", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--timeout", "-t", default="5m", help="Accepted for Juju compatibility.")
def kill_controller(name: str, no_prompt: bool, timeout: str) -> None:
    """Stop the controller and every agent it started, and forget it."""
    del timeout
    if not no_prompt and sys.stdin.isatty():
        click.confirm(f'Destroy controller "{name}" and everything it runs?', abort=True)
    _lifecycle.kill(_home(), name)
    home_settings().client_config.unlink(missing_ok=True)
    _output.err_console.print(f'Controller "{name}" killed.')


@cli.command("start-controller")
def start_controller() -> None:
    """Start this home's controller again (after a reboot or a crash)."""
    with _output.err_console.status("starting the controller"):
        config = _lifecycle.start(_home())
    _output.err_console.print(f'Controller "{config.name}" is up.')


@cli.command()
@click.option(
    "--format", "output_format", type=click.Choice(["smart", "json", "yaml"]), default="smart"
)
@click.option("--all", "show_all", is_flag=True, help="Also show Runecraft's own version.")
def version(output_format: str, show_all: bool) -> None:
    """Print the Juju version whose CLI this is (`3.6.12-ubuntu-amd64`); with --all, also
    Runecraft's own version."""
    text = _juju.juju_version()
    if not show_all:
        if not _output.emit(text, output_format):
            click.echo(text)
        return
    document = {"version": text, "git-commit": "", "runecraft-version": __version__}
    _output.emit(document, "yaml" if output_format == "smart" else output_format)


# --- models ------------------------------------------------------------------------------


@cli.command("add-model")
@click.argument("name")
@click.argument("cloud", required=False, default="local")
@click.option("--cloud", "cloud_option", help="The cloud (substrate): see `rune clouds`.")
@click.option("--config", "config_pairs", multiple=True, help="KEY=VALUE model config.")
@click.option("--no-switch", is_flag=True, help="Do not make it the current model.")
@click.option("--controller", help="The controller (this home's only one).")
@click.option("--credential", help="Accepted for Juju compatibility.")
def add_model(
    name: str,
    cloud: str,
    cloud_option: str | None,
    config_pairs: tuple[str, ...],
    no_switch: bool,
    controller: str | None,
    credential: str | None,
) -> None:
    """Add a model and (unless --no-switch) make it the current one."""
    del credential
    _juju.check_controller(controller)
    _juju.check_controller(name.partition(":")[0] if ":" in name else None)
    cloud = cloud_option or cloud
    values = _key_values(config_pairs, "config")
    info = _run(lambda c: c.add_model(_argv.model_name(name), cloud, dict(values)))
    if not no_switch:
        config = _client_config()
        _config.save(home_settings().client_config, config.model_copy(update={"model": info.name}))
    _output.err_console.print(f'Added model "{info.name}" on cloud {info.cloud}.')


@cli.command()
@_output.FORMAT_OPTION
def models(output_format: str) -> None:
    """List the models."""
    found = _run(lambda c: c.models())
    current = _client_config().model
    document = {
        "models": [
            {
                "name": f"admin/{m.name}",
                "short-name": m.name,
                "model-uuid": m.uuid,
                "cloud": m.cloud,
                "life": m.life,
                "revision": m.revision,
            }
            for m in found
        ],
        "current-model": current,
    }
    if _output.emit(document, output_format):
        return
    table = _output._table("Model", "Cloud", "Life", "Revision")
    for m in found:
        table.add_row(m.name + ("*" if m.name == current else ""), m.cloud, m.life, str(m.revision))
    _output.console.print(table)


@cli.command()
@click.argument("name")
def switch(name: str) -> None:
    """Make MODEL the current model."""
    model = _run(lambda c: c.show_model(_argv.model_name(name)))
    config = _client_config()
    _config.save(home_settings().client_config, config.model_copy(update={"model": model.name}))


@cli.command("destroy-model")
@click.argument("name")
@click.option("--no-prompt", "-y", is_flag=True)
@click.option("--no-wait", is_flag=True, help="Return before the model is gone.")
@click.option("--force", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--destroy-storage", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--release-storage", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--timeout", "-t", default="30m", help="How long to wait for removal.")
def destroy_model(
    name: str,
    no_prompt: bool,
    no_wait: bool,
    force: bool,
    destroy_storage: bool,
    release_storage: bool,
    timeout: str,
) -> None:
    """Remove a model with everything in it."""
    del force
    if destroy_storage and release_storage:
        raise errors.UsageError("--destroy-storage and --release-storage cannot be used together")
    model = _argv.model_name(name)
    if not no_prompt and sys.stdin.isatty():
        click.confirm(f'Destroy model "{model}" and everything in it?', abort=True)
    limit = _argv.parse_duration(timeout)

    async def destroy(client: Client) -> None:
        await client.destroy_model(model)
        if no_wait:
            return
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if model not in {m.name for m in await client.models()}:
                return
            await asyncio.sleep(0.2)
        raise errors.TemporaryError(f'timed out waiting for model "{model}" to be removed')

    with _output.err_console.status(f"destroying model {model}"):
        _run(destroy)


# --- applications ----------------------------------------------------------------------


@cli.command()
@click.argument("charm", type=click.Path(path_type=Path))
@click.argument("application", required=False)
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
) -> None:
    """Deploy a local charm: a .charm file, a packed directory or a charm source tree;
    or a bundle (.yaml), as `rune apply` (with --dry-run, as `rune plan`)."""
    if charm.suffix in _bundle.BUNDLE_SUFFIXES:
        if dry_run:
            _bundle.plan_bundle(charm, overlays, ())
        else:
            _bundle.apply_bundle(charm, overlays, ())
        return
    _juju.deploy_settings(constraints, base, trust)  # refuse bad values before packing
    if not charm.exists():
        raise errors.NotFoundError(
            f'charm "{charm}" not found: give the path of a local charm (Charmhub is not '
            "supported yet)"
        )
    values: dict[str, Any] = {}
    for item in config_items:
        if "=" in item:
            values.update(_key_values([item], "config"))
        else:
            values.update(_config_file(Path(item), application))
    storage_schema.parse_directives(storage_items)  # refuse bad syntax before packing
    storage = dict(item.split("=", 1) for item in storage_items)
    resource_files = _resources.read_resources(resource_items)
    packed = _pack(charm)
    name = application or packed.charm.meta.name
    model = _model()

    async def go(client: Client) -> list[str]:
        info = await client.upload_charm(packed.data)
        uploaded = await _resources.upload_resources(client, resource_files)
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
            ),
        )
        return units

    units = _run(go)
    _output.err_console.print(
        f'Deployed "{name}" from {charm} with {len(units)} unit(s): {", ".join(units) or "-"}'
    )


@cli.command("add-unit")
@click.argument("application")
@click.option("--num-units", "-n", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--to", "to", help="Placement, comma-separated: machine numbers, new, lxd or lxd:N.")
def add_unit(application: str, num_units: int, to: str | None) -> None:
    """Add units to an application."""
    model = _model()
    units = _run(
        lambda c: c.add_units(
            model, application, num_units, [p for p in (to or "").split(",") if p]
        )
    )
    _output.err_console.print(f"Added {', '.join(units)}")


@cli.command("remove-unit")
@click.argument("units", nargs=-1, required=True)
@click.option("--no-prompt", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--force", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--destroy-storage", is_flag=True, help="Accepted for Juju compatibility.")
@click.option(
    "--num-units",
    type=click.IntRange(min=1),
    help="Remove this many units of each APPLICATION given (the newest first).",
)
def remove_unit(
    units: tuple[str, ...],
    no_prompt: bool,
    force: bool,
    destroy_storage: bool,
    num_units: int | None,
) -> None:
    """Remove units (they run their stop and remove hooks first)."""
    del no_prompt, force, destroy_storage
    model = _model()

    async def go(client: Client) -> list[str]:
        chosen = list(units)
        if num_units is not None:
            chosen = await _show.newest_units(client, model, chosen, num_units)
        await client.remove_units(model, chosen)
        return chosen

    removed = _run(go)
    _output.err_console.print(f"Removing {', '.join(removed)}")


@cli.command("remove-application")
@click.argument("applications", nargs=-1, required=True)
@click.option("--no-prompt", is_flag=True)
@click.option("--force", is_flag=True)
@click.option("--destroy-storage", is_flag=True)
def remove_application(
    applications: tuple[str, ...], no_prompt: bool, force: bool, destroy_storage: bool
) -> None:
    """Remove applications with all their units."""
    del no_prompt, force, destroy_storage
    model = _model()

    async def go(client: Client) -> None:
        for application in applications:
            await client.remove_application(model, application)

    _run(go)


@cli.command()
@click.argument("application")
@click.argument("settings", nargs=-1)
@click.option("--reset", multiple=True, help="Comma-separated options to reset to default.")
@click.option("--file", "config_file", type=click.Path(path_type=Path), help="YAML settings file.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
)
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


# --- status and waiting -------------------------------------------------------------------


@cli.command()
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


for _command, _names in _runtime.COMMANDS:
    for _name in _names:
        cli.add_command(_command, _name)


@cli.command()
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


def main(argv: Sequence[str] | None = None, *, prog_name: str = "rune") -> None:
    """Entry point: Juju-style errors (`ERROR …`, exit 1; usage errors exit 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        _MODEL_FROM_ARGV[0], args = _argv.hoist_model(args)
        cli.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        _output.err_console.print("ERROR aborted")
        sys.exit(1)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except errors.UsageError as exc:
        _output.err_console.print(f"ERROR {exc.message}", markup=False)
        sys.exit(2)
    except errors.RunecraftError as exc:
        _output.err_console.print(f"ERROR {exc.message}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def juju_main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `rune-juju`: `rune` answering as `juju` (link it as `juju` on PATH)."""
    main(argv, prog_name="juju")


for _command, _names in _show.COMMANDS:
    for _name in _names:
        cli.add_command(_command, _name)


from runecraft.cli import _exec  # noqa: E402

cli.add_command(_exec.exec_command, "exec")

from runecraft.cli import _lxd  # noqa: E402

cli.add_command(_lxd.clouds, "clouds")
cli.add_command(_lxd.lxd, "lxd")

from runecraft.cli import _bundle  # noqa: E402

for _command in _bundle.COMMANDS:
    cli.add_command(_command)

from runecraft.cli import _machines  # noqa: E402

cli.add_command(_machines.add_machine)
cli.add_command(_machines.remove_machine)
cli.add_command(_machines.list_machines)

from runecraft.cli import _logs  # noqa: E402

cli.add_command(_logs.debug_log)
cli.add_command(_logs.show_status_log)

from runecraft.cli import _secrets  # noqa: E402

for _command in (
    _secrets.add_secret,
    _secrets.update_secret,
    _secrets.grant_secret,
    _secrets.revoke_secret,
    _secrets.remove_secret,
    _secrets.list_secrets,
    _secrets.show_secret,
):
    cli.add_command(_command)

from runecraft.cli import _resources  # noqa: E402

cli.add_command(_resources.attach_resource, "attach-resource")

from runecraft.cli import _ssh  # noqa: E402

cli.add_command(_ssh.ssh)
cli.add_command(_ssh.scp)
