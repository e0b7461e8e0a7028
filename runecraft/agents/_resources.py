"""`resource-get`: download an application resource once into the unit's resources dir.

The file goes to `<unit dir>/resources/<name>/<filename>` (Juju's layout); a `.sha256`
marker next to it says which revision is there, so a new revision is downloaded once and an
unchanged one never again. The body is checked against the hash the snapshot named.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from runecraft import errors
from runecraft.schemas.resources import ResourceRemote

__all__ = ["materialise"]

_MARKER = ".sha256"


def _target(root: Path, resource: ResourceRemote) -> Path:
    for part in (resource.name, resource.filename):
        if not part or part in (".", "..") or "/" in part or part == _MARKER:
            raise errors.PermanentError(f'resource "{resource.name}": bad file name "{part}"')
    return root / resource.name / resource.filename


def _write(path: Path, data: bytes, sha256: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    (path.parent / _MARKER).write_text(sha256, encoding="ascii")


async def materialise(
    resource: ResourceRemote, root: Path, fetch: Callable[[str], Awaitable[bytes]]
) -> Path:
    """The local path of `resource`, downloading it first if this revision is not there.

    Raises:
        RunecraftError: the download failed or did not match its hash.
    """
    path = _target(root, resource)
    marker = path.parent / _MARKER
    if path.is_file() and marker.is_file() and marker.read_text().strip() == resource.sha256:
        return path
    data = await fetch(resource.sha256)
    digest = hashlib.sha256(data).hexdigest()
    if digest != resource.sha256:
        raise errors.PermanentError(
            f'resource "{resource.name}" download has sha256 {digest}, expected {resource.sha256}'
        )
    _write(path, data, resource.sha256)
    return path
