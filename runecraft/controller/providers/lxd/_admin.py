"""What `rune lxd ...` and `rune bootstrap lxd` ask of LXD: the bridge address, and
building, importing and removing Runecraft's machine image.

The CLI runs these through `python -m runecraft.controller` so that its own process never
loads pylxd; each returns the sentence the CLI prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from runecraft import errors
from runecraft.controller.providers.lxd._api import LxdApi
from runecraft.controller.providers.lxd._image import build_image_tarball, image_alias
from runecraft.settings import LxdSettings

__all__ = ["bridge_address", "ensure_image", "remove_image"]


def bridge_address(settings: LxdSettings) -> str:
    """The IPv4 address of Runecraft's LXD bridge: where containers reach the controller."""

    async def go() -> str:
        api = LxdApi.from_settings(settings)
        try:
            return await api.network_address(settings.network)
        finally:
            api.close()

    return asyncio.run(go())


def ensure_image(
    settings: LxdSettings,
    directory: Path,
    *,
    mirror: str | None,
    rebuild: bool,
    progress: Callable[[str], None] = lambda _: None,
) -> str:
    """Build the machine image for the bridge of `settings` (the tarball cached in
    `directory`) and import it, unless LXD has it already and `rebuild` is not asked."""

    async def go() -> str:
        api = LxdApi.from_settings(settings)
        try:
            bridge = await api.network_address(settings.network)
            alias = image_alias(bridge)
            if not rebuild and await api.has_image(alias):
                return f'LXD image "{alias}" is already present.'
            progress("building the LXD image")
            tarball = await asyncio.to_thread(
                build_image_tarball,
                directory,
                nameserver=bridge,
                mirror=mirror,
                progress=lambda text: progress(f"building the LXD image: {text}"),
            )
            progress("importing the image into LXD")
            await api.import_image(tarball, alias)
            return f'LXD image "{alias}" is ready.'
        finally:
            api.close()

    return asyncio.run(go())


def remove_image(settings: LxdSettings, image: str | None) -> str:
    """Delete an image Runecraft imported (by default the one `ensure_image` makes); an
    image Runecraft did not import is refused and left alone."""

    async def go() -> str:
        api = LxdApi.from_settings(settings)
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

    return asyncio.run(go())
