"""The LXD substrate: machines are LXD containers (work in progress: image and API edge)."""

from __future__ import annotations

from runecraft.controller.providers.lxd._api import ExecResult, LxdApi
from runecraft.controller.providers.lxd._image import (
    IMAGE_PACKAGES,
    apt_mirror,
    build_image_tarball,
)

__all__ = ["IMAGE_PACKAGES", "ExecResult", "LxdApi", "apt_mirror", "build_image_tarball"]
