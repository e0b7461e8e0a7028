"""The agent as one executable zipapp, for workload images that have `python3` and nothing else.

On Kubernetes the pod's init container (the agent image) runs `install /charm/bin/pebble`, and
every workload container runs that file as its entrypoint, as Juju does with its Go `pebble`.
The archive holds this package, the two `__init__` modules above it, and the pure-Python parts
of h11, wsproto and PyYAML (PyYAML falls back to Python when its C extension is missing), with
their licence texts. The entries are sorted and dated 1980-01-01, so the same sources give the
same bytes.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import os
import tempfile
import zipfile
import zipimport
from collections.abc import Iterator
from pathlib import Path

__all__ = ["DEPENDENCIES", "ENTRY_POINT", "build"]

ENTRY_POINT = "runecraft.agents.pebble.__main__:main"
DEPENDENCIES = {"h11": "h11", "wsproto": "wsproto", "yaml": "PyYAML"}
"""Import name -> distribution name (for the licence file)."""

_SHEBANG = b"#!/usr/bin/env python3\n"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_MODULE, _, _FUNCTION = ENTRY_POINT.partition(":")
_MAIN = (
    "import sys\n"
    "if sys.version_info < (3, 11):\n"
    "    version = sys.version.split()[0]\n"
    "    sys.exit(f'rune-pebble needs Python 3.11 or newer; this image has {version}')\n"
    f"from {_MODULE} import {_FUNCTION}\n"
    f"sys.exit({_FUNCTION}())\n"
)
"""The zipapp's `__main__`: an image with too old a Python gets one clear line, not a
traceback from deep in an import."""


def build(dest: Path) -> None:
    """Write the zipapp at `dest` (mode 0755), replacing any file there in one rename, so a
    workload running the old one keeps it. Run from a zipapp, this copies that zipapp."""
    archive = _running_archive()
    data = archive.read_bytes() if archive is not None else _archive_bytes()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o755)
        os.replace(temporary, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _running_archive() -> Path | None:
    """The zipapp this module was imported from, if it was."""
    loader = __spec__.loader if __spec__ is not None else None
    if isinstance(loader, zipimport.zipimporter):
        return Path(loader.archive)
    return None


def _archive_bytes() -> bytes:
    """The zipapp's content: the shebang line, then the zip (a prefix is allowed before a
    zip, as `zipapp` itself writes it)."""
    buffer = io.BytesIO()
    buffer.write(_SHEBANG)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(_entries()):
            info = zipfile.ZipInfo(name, _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def _entries() -> Iterator[tuple[str, bytes]]:
    package = Path(__file__).resolve().parent  # runecraft/agents/pebble
    yield "__main__.py", _MAIN.encode()
    yield "runecraft/__init__.py", (package.parents[1] / "__init__.py").read_bytes()
    yield "runecraft/agents/__init__.py", (package.parent / "__init__.py").read_bytes()
    yield from _python_files(package, "runecraft/agents/pebble")
    for module, distribution in DEPENDENCIES.items():
        yield from _python_files(_package_dir(module), module)
        yield from _licence(distribution)


def _python_files(directory: Path, prefix: str) -> Iterator[tuple[str, bytes]]:
    """Every `.py` file under `directory` (compiled files and extensions left out)."""
    for path in sorted(directory.rglob("*.py")):
        relative = path.relative_to(directory)
        if "__pycache__" not in relative.parts:
            yield f"{prefix}/{relative.as_posix()}", path.read_bytes()


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {module} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _licence(distribution: str) -> Iterator[tuple[str, bytes]]:
    """The distribution's licence text, which its licence asks copies to carry."""
    found = importlib.metadata.distribution(distribution)
    for file in found.files or []:
        name = file.name.upper()
        if name.startswith(("LICENSE", "LICENCE", "COPYING")):
            yield f"licenses/{distribution}/{file.name}", file.read_binary()
