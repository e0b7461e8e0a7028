"""Models: `add-model`, `models`, `switch`, `destroy-model`."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence

import click

from runecraft import errors
from runecraft.cli import _argv, _config, _juju, _output
from runecraft.cli._clouds import load_clouds
from runecraft.cli._common import (
    _client_config,
    _key_values,
    _run,
)
from runecraft.client import Client
from runecraft.settings import home_settings

__all__ = ["add_model", "destroy_model", "models", "switch", "wait_models_gone"]


@click.command("add-model")
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
    try:
        info = _run(lambda c: c.add_model(_argv.model_name(name), cloud, dict(values)))
    except errors.NotFoundError as exc:
        if cloud not in load_clouds().clouds:
            raise
        raise errors.NotFoundError(
            f'{exc.message} (cloud "{cloud}" is on this client only: add it to the '
            f"controller with `add-k8s {cloud} --controller CONTROLLER`)"
        ) from exc
    if not no_switch:
        config = _client_config()
        _config.save(home_settings().client_config, config.model_copy(update={"model": info.name}))
    _output.err_console.print(
        f'Added model "{info.name}" on cloud "{info.cloud}" (model type {info.type}).',
        markup=False,
    )


@click.command()
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
                "model-type": m.type,
                "cloud": m.cloud,
                "type": m.type,
                "life": m.life,
                "revision": m.revision,
            }
            for m in found
        ],
        "current-model": current,
    }
    if _output.emit(document, output_format):
        return
    table = _output._table("Model", "Cloud", "Type", "Life", "Revision")
    for m in found:
        name = m.name + ("*" if m.name == current else "")
        table.add_row(name, m.cloud, m.type, m.life, str(m.revision))
    _output.console.print(table)


@click.command()
@click.argument("name")
def switch(name: str) -> None:
    """Make MODEL the current model."""
    model = _run(lambda c: c.show_model(_argv.model_name(name)))
    config = _client_config()
    _config.save(home_settings().client_config, config.model_copy(update={"model": model.name}))


async def wait_models_gone(client: Client, models: Sequence[str], limit: float) -> None:
    """Return once none of `models` is listed any more; a `TemporaryError` after `limit`
    seconds names those left."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        left = sorted(set(models) & {m.name for m in await client.models()})
        if not left:
            return
        await asyncio.sleep(0.2)
    names = ", ".join('"' + m + '"' for m in left)
    raise errors.TemporaryError(f"timed out waiting for model {names} to be removed")


@click.command("destroy-model")
@click.argument("name")
@click.option("--no-prompt", "-y", is_flag=True)
@click.option("--no-wait", is_flag=True, help="Return before the model is gone.")
@click.option("--force", is_flag=True, help="Remove units even if their hooks fail.")
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
    if destroy_storage and release_storage:
        raise errors.UsageError("--destroy-storage and --release-storage cannot be used together")
    model = _argv.model_name(name)
    if not no_prompt and sys.stdin.isatty():
        click.confirm(f'Destroy model "{model}" and everything in it?', abort=True)
    limit = _argv.parse_duration(timeout)

    async def destroy(client: Client) -> None:
        await client.destroy_model(model, force=force)
        if not no_wait:
            await wait_models_gone(client, [model], limit)

    with _output.err_console.status(f"destroying model {model}"):
        _run(destroy)
