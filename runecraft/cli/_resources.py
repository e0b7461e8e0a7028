"""`rune attach-resource` and the file reading `deploy --resource` shares with it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from runecraft import errors
from runecraft.cli import _output
from runecraft.cli._common import _model
from runecraft.cli._common import _run as _call
from runecraft.client import Client
from runecraft.schemas import resources as res

__all__ = ["attach_resource", "read_resources", "upload_resources"]


def read_resources(items: Sequence[str]) -> dict[str, bytes]:
    """`name=PATH` arguments as name → file content; a missing file is an error naming it."""
    files: dict[str, bytes] = {}
    for name, path in res.parse_resource_args(items).items():
        try:
            data = Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise errors.InvalidSpecError(
                f'resource "{name}": cannot read "{path}": {exc.strerror}'
            ) from exc
        if len(data) > res.MAX_RESOURCE_BYTES:
            raise errors.InvalidSpecError(
                f'resource "{name}": "{path}" is larger than {res.MAX_RESOURCE_BYTES} bytes'
            )
        files[name] = data
    return files


async def upload_resources(client: Client, files: dict[str, bytes]) -> dict[str, str]:
    """Upload each file; returns name → sha256 for deploy or attach."""
    return {name: (await client.upload_resource(data)).sha256 for name, data in files.items()}


@click.command("attach-resource")
@click.argument("application")
@click.argument("resources", nargs=-1, required=True)
def attach_resource(application: str, resources: tuple[str, ...]) -> None:
    """Attach files to an application's resources: APP NAME=PATH…"""
    files = read_resources(resources)
    model = _model()

    async def go(client: Client) -> list[res.ResourceInfo]:
        return await client.attach_resources(
            model, application, await upload_resources(client, files)
        )

    for info in _call(go):
        _output.err_console.print(
            f'Attached resource "{info.name}" (revision {info.revision}) to {application}',
            markup=False,
        )
