"""Charm archives: deterministic zips in, safe extraction out.

A `.charm` is a zip whose entries carry Unix permission bits (hooks and `dispatch` must stay
executable). Runecraft content-addresses charms by the archive's sha256, so zips made here
are deterministic: sorted entries, fixed timestamps, modes normalised to 0644/0755.

Archives from elsewhere are untrusted: every entry name is checked before anything is read
(no absolute paths, no `..`, no symlinks, no duplicates), sizes are capped, and extraction
never writes outside the destination, even through symlinks a charm made there itself.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import stat
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from runecraft import errors

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_ENTRIES",
    "MAX_UNPACKED_BYTES",
    "content_hash",
    "file_entries",
    "open_archive",
    "unpack",
    "zip_files",
]

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
"""Largest charm archive accepted or produced (charms with big venvs are tens of MiB)."""
MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024
"""Largest total of declared uncompressed sizes: the zip-bomb guard."""
MAX_ENTRIES = 200_000
"""Most entries in one archive."""

_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest zip timestamp; every entry gets it so equal trees give equal bytes."""
_CHUNK = 1024 * 1024


def content_hash(data: bytes) -> str:
    """The sha256 hex digest that names a charm archive everywhere in Runecraft."""
    return hashlib.sha256(data).hexdigest()


def zip_files(entries: Iterable[tuple[str, Path]]) -> bytes:
    """Zip `(archive name, file on disk)` pairs deterministically.

    Only the executable bit of each file's mode survives (0755 or 0644), so checkouts with
    different umasks pack to the same bytes.
    """
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in sorted(entries):
            data = source.read_bytes()
            total += len(data)
            if total > MAX_UNPACKED_BYTES:
                raise errors.InvalidSpecError(
                    f"charm is larger than {MAX_UNPACKED_BYTES} bytes unpacked"
                )
            mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = 3  # Unix, so external_attr holds st_mode
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=6)
    result = buffer.getvalue()
    if len(result) > MAX_ARCHIVE_BYTES:
        raise errors.InvalidSpecError(f"charm archive is larger than {MAX_ARCHIVE_BYTES} bytes")
    return result


def open_archive(data: bytes) -> zipfile.ZipFile:
    """Open untrusted archive bytes, refusing what is not a zip or is too large."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise errors.InvalidSpecError(
            f"charm archive: {len(data)} bytes is larger than the limit of {MAX_ARCHIVE_BYTES}"
        )
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise errors.InvalidSpecError(f"charm archive: not a valid zip file ({exc})") from exc


def _check_name(name: str) -> str:
    """Return the entry's path without a trailing slash, or raise if it could escape."""
    path = name[:-1] if name.endswith("/") else name
    parts = path.split("/")
    if (
        not path
        or "\\" in path
        or path.startswith("/")
        or (len(path) > 1 and path[1] == ":")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise errors.InvalidSpecError(
            f"charm archive: entry {name!r} has an unsafe path (absolute, empty or with '..')"
        )
    return path


def file_entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Validate every entry of an untrusted archive and return its files (not directories).

    Checks, before anything is extracted: entry count, total declared size, path safety,
    duplicates, symlinks, encryption, and a file standing where another entry needs a
    directory.
    """
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise errors.InvalidSpecError(
            f"charm archive: {len(infos)} entries is more than the limit of {MAX_ENTRIES}"
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_UNPACKED_BYTES:
        raise errors.InvalidSpecError(
            f"charm archive: {total} bytes unpacked is larger than the limit of "
            f"{MAX_UNPACKED_BYTES}"
        )
    files: list[zipfile.ZipInfo] = []
    seen: set[str] = set()
    directories: set[str] = set()
    for info in infos:
        path = _check_name(info.filename)
        if path in seen:
            raise errors.InvalidSpecError(f"charm archive: entry {path!r} appears twice")
        seen.add(path)
        if info.flag_bits & 0x1:
            raise errors.InvalidSpecError(f"charm archive: entry {path!r} is encrypted")
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):
            raise errors.InvalidSpecError(
                f"charm archive: entry {path!r} is a symlink; symlinks are not supported"
            )
        parts = path.split("/")
        directories.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if info.is_dir():
            directories.add(path)
        else:
            files.append(info)
    for info in files:
        if info.filename in directories:
            raise errors.InvalidSpecError(
                f"charm archive: entry {info.filename!r} is both a file and a directory"
            )
    return files


def _mode(info: zipfile.ZipInfo) -> int:
    """Permission bits to restore: the archive's when it recorded Unix ones, else 0644."""
    mode = (info.external_attr >> 16) & 0o777
    if info.create_system != 3 or mode == 0:
        return 0o644
    return mode | 0o600  # the charm dir must stay writable by the agent


def _inside(root: Path, path: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(root)


def _ensure_dir(root: Path, relative: str, verified: set[str]) -> Path:
    """Create `root/relative` one level at a time, refusing to follow a way out of root."""
    current = root
    walked: list[str] = []
    for part in relative.split("/") if relative else ():
        walked.append(part)
        current = current / part
        key = "/".join(walked)
        if key in verified:
            continue
        if current.is_symlink() or current.exists():
            if not _inside(root, current):
                raise errors.InvalidSpecError(
                    f"charm archive: {key!r} in {root} leads outside the charm directory"
                )
            if not current.is_dir():
                raise errors.InvalidSpecError(
                    f"charm archive: needs {key!r} in {root} to be a directory, but a file is there"
                )
        else:
            current.mkdir()
        verified.add(key)
    return current


def unpack(archive: bytes | Path, dest: Path) -> None:
    """Extract a charm into a persistent charm directory, as Juju deploys and upgrades.

    Files in the archive replace those in `dest` (each atomically, so a running hook never
    sees half a file); anything else in `dest`, such as ops' `.unit-state.db`, is kept.
    Executable bits are restored from the archive.

    Raises:
        InvalidSpecError: the archive is not a zip, is too large, or has an unsafe entry.
    """
    data = archive.read_bytes() if isinstance(archive, Path) else archive
    with open_archive(data) as zf:
        entries = file_entries(zf)
        for info in zf.infolist():
            if info.is_dir():
                entries.append(info)
        dest.mkdir(parents=True, exist_ok=True)
        root = Path(os.path.realpath(dest))
        verified: set[str] = set()
        for info in entries:
            path = _check_name(info.filename)
            if info.is_dir():
                _ensure_dir(root, path, verified)
                continue
            parent_rel, _, filename = path.rpartition("/")
            parent = _ensure_dir(root, parent_rel, verified)
            target = parent / filename
            if target.is_dir() and not target.is_symlink():
                raise errors.InvalidSpecError(
                    f"charm archive: cannot write file {path!r}: a directory is in the way "
                    f"in {root}"
                )
            temporary = parent / f".{filename}.{secrets.token_hex(4)}.unpacking"
            try:
                with zf.open(info) as source, temporary.open("xb") as sink:
                    while chunk := source.read(_CHUNK):
                        sink.write(chunk)
                temporary.chmod(_mode(info))
                temporary.replace(target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise errors.InvalidSpecError(f"charm archive: entry {path!r}: {exc}") from exc
            finally:
                temporary.unlink(missing_ok=True)
