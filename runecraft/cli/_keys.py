"""`add-ssh-key`, `remove-ssh-key`, `ssh-keys` (a model's authorized keys) and
`model-defaults` (the config new models start with), with Juju's flags and shapes."""

from __future__ import annotations

from typing import Any

import click

from runecraft import errors
from runecraft.cli import _output
from runecraft.cli._common import _model, _run, _settings_change

__all__ = ["add_ssh_key", "model_defaults", "remove_ssh_key", "ssh_keys"]


@click.command("add-ssh-key")
@click.argument("keys", nargs=-1, required=True)
def add_ssh_key(keys: tuple[str, ...]) -> None:
    """Add public keys (`authorized_keys` lines, each one argument) to the model."""
    model = _model()
    _run(lambda c: c.add_ssh_keys(model, list(keys)))


@click.command("remove-ssh-key")
@click.argument("ids", nargs=-1, required=True)
def remove_ssh_key(ids: tuple[str, ...]) -> None:
    """Remove keys from the model, named by fingerprint or comment."""
    model = _model()
    _run(lambda c: c.remove_ssh_keys(model, list(ids)))


@click.command("ssh-keys")
@click.option("--full", is_flag=True, help="Show the whole keys, not their fingerprints.")
def ssh_keys(full: bool) -> None:
    """List the model's authorized keys: `FINGERPRINT (COMMENT)`, or whole with --full."""
    model = _model()
    keys = _run(lambda c: c.ssh_keys(model))
    if not keys:
        click.echo("No keys to display.")
        return
    click.echo(f"Keys used in model: admin/{model}")
    for key in keys:
        click.echo(key["key"] if full else f"{key['fingerprint']} ({key['comment']})")


@click.command("model-defaults")
@click.argument("settings", nargs=-1)
@click.option("--reset", multiple=True, help="Comma-separated keys to reset.")
@_output.format_option("tabular", "json", "yaml", help="Output format.")
def model_defaults(settings: tuple[str, ...], reset: tuple[str, ...], output_format: str) -> None:
    """Show the config new models start with; KEY=VALUE sets (and --reset KEY resets) what
    the controller gives them instead of the default. Models that exist keep theirs."""
    key, values, reset_keys = _settings_change(settings, reset)
    if values or reset_keys:
        _run(lambda c: c.set_model_defaults(values, reset_keys))
        return
    document = _run(lambda c: c.model_defaults())
    if key is not None:
        if key not in document:
            raise errors.NotFoundError(f'unknown model config key "{key}"')
        document = {key: document[key]}
    if _output.emit(document, output_format):
        return
    table = _output._table("Attribute", "Default", "Controller")
    for key, entry in document.items():
        table.add_row(key, _shown(entry["default"]), _shown(entry.get("controller", "-")))
    _output.console.print(table)


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
