"""The controller of this home: `bootstrap`, `start-controller`, `kill-controller`.

The controller runs as its own program; what these commands ask of it runs through
`python -m runecraft.controller` (see `_delegate`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from runecraft import errors
from runecraft.cli import _argv, _clouds, _config, _juju, _lxd, _output
from runecraft.cli._common import _home, _key_values, _run
from runecraft.cli._delegate import delegate
from runecraft.client import Client
from runecraft.schemas.clouds import builtin_clouds
from runecraft.schemas.controller import ControllerConfig
from runecraft.settings import home_settings

__all__ = ["bootstrap", "destroy_controller", "kill_controller", "start_controller"]


def _kill(home: Path, name: str) -> None:
    delegate("kill", "--home", str(home), "--name", name)


def _added_cloud(cloud: str) -> _clouds.ClientCloud | None:
    """The cloud this client added under `cloud` (None: a built-in one); an unknown name
    lists every cloud bootstrap can use."""
    if cloud in builtin_clouds():
        return None
    added = _clouds.load_clouds().clouds
    if cloud not in added:
        known = ", ".join(sorted([*builtin_clouds(), *added]))
        raise errors.InvalidSpecError(f'unknown cloud "{cloud}": known clouds are: {known}')
    return added[cloud]


@click.command()
@click.argument("cloud", required=False, default="local")
@click.argument("name", required=False, default="runecraft")
@click.option("--database", help="SQLAlchemy URL (default: SQLite in the home).")
@click.option(
    "--broker",
    help="embedded (default), mosquitto[:PORT] (run by Runecraft), or mqtt://[user:pw@]host:port "
    "(a mosquitto with the dynamic-security plugin, user having its admin role).",
)
@click.option("--api-port", type=int, help="API port (default: a free port).")
@click.option(
    "--listen-address",
    help="IP address the API and broker listen on and agents dial (a bridge or LAN address "
    "for LXD containers and SSH machines). Default: 127.0.0.1, or for the lxd cloud the "
    "address of its bridge.",
)
@click.option(
    "--no-tls",
    is_flag=True,
    help="Serve the API and the broker without TLS (plain http and MQTT): only with a "
    "loopback listen address.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How the controller writes controller.log: key-value lines, or JSON lines for log "
    "shippers (RUNECRAFT_LOG_FORMAT overrides it).",
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
@click.option(
    "--metadata-source", expose_value=False, help="Accepted for Juju compatibility (no images)."
)
def bootstrap(
    cloud: str,
    name: str,
    database: str | None,
    broker: str | None,
    api_port: int | None,
    listen_address: str | None,
    no_tls: bool,
    log_format: str,
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

    CLOUD is a built-in cloud or one this client added (`add-k8s`): the controller itself
    runs here either way; a Kubernetes cloud is added to it and the default model made on
    it. Juju's `--config`/`--model-default` become the default model's config and
    `--constraints` its constraints; all are checked before anything starts."""
    del no_switch, credential, force
    added = _added_cloud(cloud)
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
    options = {"--database": database, "--broker": broker, "--api-port": api_port}
    with _output.err_console.status("bootstrapping") as spinner:
        config = ControllerConfig.model_validate(
            delegate(
                "bootstrap",
                *("--home", str(home), "--name", name, "--host", listen_address),
                *(
                    word
                    for flag, value in options.items()
                    if value is not None
                    for word in (flag, str(value))
                ),
                *("--log-format", log_format, *(["--no-tls"] if no_tls else [])),
                progress=spinner.update,
            )
        )
        host = f"[{config.api_host}]" if ":" in config.api_host else config.api_host
        endpoint = f"{'https' if config.tls else 'http'}://{host}:{config.api_port}"
        ca_cert = (home / "controller" / "tls" / "ca.crt").read_text() if config.tls else None
        client_config = _config.ClientConfig(
            controller=config.name, endpoint=endpoint, token=config.admin_token, ca_cert=ca_cert
        ).model_copy(update={"cloud": cloud})
        _config.save(home_settings().client_config, client_config)

        async def add_default(client: Client) -> None:
            if added is not None:
                await client.add_cloud(added.request(cloud))
            await client.add_model("default", cloud, model_config)
            if constraints:
                await client.set_model_constraints("default", list(constraints))

        try:
            _run(add_default)
        except errors.RunecraftError:
            _kill(home, config.name)
            home_settings().client_config.unlink(missing_ok=True)
            raise
    _output.err_console.print(
        f'Controller "{config.name}" is up at {endpoint} (broker: {config.broker.kind}); '
        'model "default" added.'
    )


@click.command("kill-controller")
@click.argument("name")
@click.option("--no-prompt", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--timeout", "-t", default="5m", help="Accepted for Juju compatibility.")
def kill_controller(name: str, no_prompt: bool, timeout: str) -> None:
    """Stop the controller and every agent it started, and forget it."""
    del timeout
    if not no_prompt and sys.stdin.isatty():
        click.confirm(f'Destroy controller "{name}" and everything it runs?', abort=True)
    _kill(_home(), name)
    home_settings().client_config.unlink(missing_ok=True)
    _output.err_console.print(f'Controller "{name}" killed.')


@click.command("destroy-controller")
@click.argument("name")
@click.option("--destroy-all-models", is_flag=True, help="Destroy every model first.")
@click.option("--destroy-storage", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--release-storage", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--force", is_flag=True, help="Remove units even if their hooks fail.")
@click.option("--no-wait", is_flag=True, help="Accepted for Juju compatibility.")
@click.option("--no-prompt", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--model-timeout", default="30m", help="How long to wait for the models to go.")
def destroy_controller(
    name: str,
    destroy_all_models: bool,
    destroy_storage: bool,
    release_storage: bool,
    force: bool,
    no_wait: bool,
    no_prompt: bool,
    model_timeout: str,
) -> None:
    """Destroy the controller: its models first (their units run their stop and remove
    hooks), then the controller and its agents. Refused, changing nothing, while a model
    has applications or machines, unless --destroy-all-models is given."""
    from runecraft.cli._models import wait_models_gone  # noqa: PLC0415

    del no_wait
    if destroy_storage and release_storage:
        raise errors.UsageError("--destroy-storage and --release-storage cannot be used together")
    _juju.check_controller(name)
    limit = _argv.parse_duration(model_timeout)
    if not no_prompt and sys.stdin.isatty():
        click.confirm(f'Destroy controller "{name}" and all its models?', abort=True)

    async def destroy(client: Client) -> None:
        live = []
        for info in await client.models():
            status = await client.status(info.name)
            apps, machines = len(status.get("applications", {})), len(status.get("machines", {}))
            if apps or machines:
                live.append(f"admin/{info.name} ({machines} machines, {apps} applications)")
        if live and not destroy_all_models:
            raise errors.ConflictError(
                f'cannot destroy controller "{name}": it has live models; run the command '
                "again with --destroy-all-models to destroy them too. Models: " + ", ".join(live)
            )
        names = [m.name for m in await client.models()]
        for model in names:
            await client.destroy_model(model, force=force)
        await wait_models_gone(client, names, limit)

    with _output.err_console.status(f"destroying controller {name}"):
        _run(destroy)
    _kill(_home(), name)
    home_settings().client_config.unlink(missing_ok=True)
    _output.err_console.print(f'Controller "{name}" destroyed.')


@click.command("start-controller")
def start_controller() -> None:
    """Start this home's controller again (after a reboot or a crash)."""
    with _output.err_console.status("starting the controller") as spinner:
        config = ControllerConfig.model_validate(
            delegate("start", "--home", str(_home()), progress=spinner.update)
        )
    _output.err_console.print(f'Controller "{config.name}" is up.')
