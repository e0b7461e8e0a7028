"""`rune clouds` and `rune lxd ...`: the substrates this installation offers, and the LXD
machine image (built here, because no image server may be reachable)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from runecraft import errors
from runecraft.cli import _output
from runecraft.controller.providers import provider_names
from runecraft.controller.providers.lxd import LxdApi, build_image_tarball, image_alias
from runecraft.settings import LxdSettings, home_settings

__all__ = ["clouds", "lxd", "lxd_bridge_address"]

_DESCRIPTIONS = {
    "local": "machines are processes on this host",
    "lxd": "machines are LXD containers on this host's LXD",
    "ssh": "machines are existing hosts reached over SSH",
}


def _api(settings: LxdSettings) -> LxdApi:
    cert = None
    if settings.cert is not None and settings.key is not None:
        cert = (str(settings.cert), str(settings.key))
    return LxdApi(settings.endpoint, cert=cert, verify=settings.verify)


def lxd_bridge_address() -> str:
    """The IPv4 address of Runecraft's LXD bridge: where containers reach the controller."""
    settings = LxdSettings()

    async def go() -> str:
        api = _api(settings)
        try:
            return await api.network_address(settings.network)
        finally:
            api.close()

    return asyncio.run(go())


@click.command()
@_output.FORMAT_OPTION
def clouds(output_format: str) -> None:
    """List the clouds (substrates) models can be added on."""
    names = provider_names()
    document = {name: {"type": name, "description": _DESCRIPTIONS.get(name, "")} for name in names}
    if _output.emit(document, output_format):
        return
    table = _output._table("Cloud", "Description")
    for name in names:
        table.add_row(name, _DESCRIPTIONS.get(name, ""))
    _output.console.print(table)


@click.group()
def lxd() -> None:
    """The LXD substrate's machine image: build it, remove it."""


@lxd.command("build-image")
@click.option("--mirror", help="Debian mirror for debootstrap (default: this host's apt source).")
@click.option("--rebuild", is_flag=True, help="Build and import even if LXD has the image.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the image tarball is kept (default: <cache>/lxd).",
)
def build_image(mirror: str | None, rebuild: bool, cache_dir: Path | None) -> None:
    """Build Runecraft's Debian machine image with debootstrap and import it into LXD.

    Containers resolve names through the bridge, so the image is made for the bridge of
    RUNECRAFT_LXD_NETWORK (default runecraft0); the tarball is cached, so a rebuild after
    an LXD reset is a file import.
    """
    settings = LxdSettings()
    directory = cache_dir or home_settings().charm_cache / "lxd"

    async def go() -> str:
        api = _api(settings)
        try:
            bridge = await api.network_address(settings.network)
            alias = image_alias(bridge)
            if not rebuild and await api.has_image(alias):
                return f'LXD image "{alias}" is already present.'
            with _output.err_console.status("building the LXD image") as spinner:
                tarball = await asyncio.to_thread(
                    build_image_tarball,
                    directory,
                    nameserver=bridge,
                    mirror=mirror,
                    progress=lambda text: spinner.update(f"building the LXD image: {text}"),
                )
                spinner.update("importing the image into LXD")
                await api.import_image(tarball, alias)
            return f'LXD image "{alias}" is ready.'
        finally:
            api.close()

    _output.err_console.print(asyncio.run(go()))


@lxd.command("remove-image")
@click.argument("image", required=False)
def remove_image(image: str | None) -> None:
    """Delete an LXD image Runecraft imported (by default the one `build-image` makes).

    IMAGE is an alias or a fingerprint. Images Runecraft did not import are refused and
    left alone; containers made from the image are not touched.
    """
    settings = LxdSettings()

    async def go() -> str:
        api = _api(settings)
        try:
            name = image or image_alias(await api.network_address(settings.network))
            info = await api.image(name)
            if info is None:
                raise errors.NotFoundError(f'LXD has no image "{name}"')
            if not info.runecraft_made:
                raise errors.PermanentError(
                    f'LXD image "{name}" (fingerprint {info.fingerprint[:12]}) was not imported '
                    "by Runecraft: it is left alone (`lxc image delete` removes it)"
                )
            await api.delete_image(info.fingerprint)
            return f'Removed LXD image "{name}" (fingerprint {info.fingerprint[:12]}).'
        finally:
            api.close()

    _output.err_console.print(asyncio.run(go()))
