"""`rune lxd ...`: the LXD machine image (built here, because no image server may be
reachable), and the address of LXD's bridge.

LXD is reached through `python -m runecraft.controller` (see `_delegate`): pylxd loads only
in that program.
"""

from __future__ import annotations

from pathlib import Path

import click

from runecraft.cli import _output
from runecraft.cli._delegate import delegate
from runecraft.settings import home_settings

__all__ = ["lxd", "lxd_bridge_address"]


def lxd_bridge_address() -> str:
    """The IPv4 address of Runecraft's LXD bridge: where containers reach the controller."""
    return str(delegate("lxd-bridge-address"))


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
    directory = cache_dir or home_settings().charm_cache / "lxd"
    args = ["lxd-build-image", "--cache-dir", str(directory)]
    if mirror:
        args += ["--mirror", mirror]
    if rebuild:
        args.append("--rebuild")
    with _output.err_console.status("checking the LXD image") as spinner:
        message = delegate(*args, progress=spinner.update)
    _output.err_console.print(message)


@lxd.command("remove-image")
@click.argument("image", required=False)
def remove_image(image: str | None) -> None:
    """Delete an LXD image Runecraft imported (by default the one `build-image` makes).

    IMAGE is an alias or a fingerprint. Images Runecraft did not import are refused and
    left alone; containers made from the image are not touched.
    """
    _output.err_console.print(delegate("lxd-remove-image", *(["--", image] if image else [])))
