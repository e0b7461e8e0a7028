"""A charm that declares each kind of resource `rune resources` tells apart: files, an
oci-image with an upstream source and one without."""

from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGE_DOCUMENT", "resource_charm"]

META = """\
name: res-demo
summary: Declares file and oci-image resources.
resources:
  motd:
    type: file
    filename: motd.txt
    description: The message of the day.
  extra:
    type: file
    filename: extra.bin
  web-image:
    type: oci-image
    description: The web server.
    upstream-source: python:3.12-slim
  side-image:
    type: oci-image
"""

IMAGE_DOCUMENT = "registrypath: registry.example/side:2\nusername: ''\npassword: ''\n"
"""An oci-image resource as Juju attaches one (`attach-resource APP NAME=FILE`)."""


def resource_charm(directory: Path) -> Path:
    """The charm's source (metadata only: no hook runs in these tests), in `directory`."""
    directory.mkdir(parents=True)
    (directory / "metadata.yaml").write_text(META)
    return directory
