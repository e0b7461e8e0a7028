"""The LXD substrate: machines are LXD system containers built from Runecraft's own image."""

from __future__ import annotations

from runecraft.controller.providers.lxd._admin import bridge_address, ensure_image, remove_image
from runecraft.controller.providers.lxd._api import IMAGE_TAG, ExecResult, ImageInfo, LxdApi
from runecraft.controller.providers.lxd._image import (
    IMAGE_PACKAGES,
    apt_mirror,
    build_image_tarball,
    image_alias,
    image_name,
)
from runecraft.controller.providers.lxd._limits import ContainerLimits, container_limits, size_mib
from runecraft.controller.providers.lxd._provider import (
    AGENT_UNIT,
    TAG_CONTROLLER,
    TAG_MACHINE,
    TAG_MODEL,
    LxdProvider,
    agent_unit,
    check_reachable,
    container_name,
)

__all__ = [
    "AGENT_UNIT",
    "IMAGE_PACKAGES",
    "IMAGE_TAG",
    "TAG_CONTROLLER",
    "TAG_MACHINE",
    "TAG_MODEL",
    "ContainerLimits",
    "ExecResult",
    "ImageInfo",
    "LxdApi",
    "LxdProvider",
    "agent_unit",
    "apt_mirror",
    "bridge_address",
    "build_image_tarball",
    "check_reachable",
    "container_limits",
    "container_name",
    "ensure_image",
    "image_alias",
    "image_name",
    "remove_image",
    "size_mib",
]
