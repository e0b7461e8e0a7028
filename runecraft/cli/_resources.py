"""`rune attach-resource` and the file reading `deploy --resource` shares with it;
`rune resources`, what an application has of each resource its charm declares."""

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

__all__ = ["attach_resource", "list_resources", "read_resources", "upload_resources"]


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


async def upload_resources(client: Client, files: dict[str, bytes], model: str) -> dict[str, str]:
    """Upload each file for `model`; returns name → sha256 for deploy or attach."""
    return {
        name: (await client.upload_resource(data, model)).sha256 for name, data in files.items()
    }


@click.command("attach-resource")
@click.argument("application")
@click.argument("resources", nargs=-1, required=True)
def attach_resource(application: str, resources: tuple[str, ...]) -> None:
    """Attach files to an application's resources: APP NAME=PATH…"""
    files = read_resources(resources)
    model = _model()

    async def go(client: Client) -> list[res.ResourceInfo]:
        return await client.attach_resources(
            model, application, await upload_resources(client, files, model)
        )

    for info in _call(go):
        _output.err_console.print(
            f'Attached resource "{info.name}" (revision {info.revision}) to {application}',
            markup=False,
        )


def _short(resource: res.ApplicationResource) -> str:
    """An oci-image's image, or the first 12 hex digits of a file's sha256 ("-": none)."""
    if resource.type == "oci-image":
        return resource.image or "-"
    return resource.fingerprint[:12] or "-"


@click.command("resources")
@click.argument("application")
@_output.FORMAT_OPTION
def list_resources(application: str, output_format: str) -> None:
    """Show the resources of an application: each one its charm declares, and whether it
    was uploaded (its revision) or comes from upstream. On local and LXD models a sidecar
    charm's oci-image is recorded and shown here, but not pulled."""
    model = _model()
    listed = _call(lambda c: c.resources(model, application))
    if _output.emit(listed.model_dump(mode="json", exclude_none=True), output_format):
        return
    if not listed.resources:
        _output.err_console.print("No resources to display.")
        return
    from rich.table import Table  # noqa: PLC0415  (JSON and YAML never load rich)

    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for header in ("Resource", "Type", "Origin", "Revision", "Image/Fingerprint"):
        table.add_column(header, no_wrap=True)
    for resource in listed.resources:
        table.add_row(
            resource.name,
            resource.type,
            resource.origin,
            str(resource.revision or "-"),
            _short(resource),
        )
    _output.console.print(table)
