"""The container's filesystem as the files API sees it: every path under one root.

The API speaks the container's absolute paths; `Root` maps them under the container root
(`--root`). With root `/` paths are used as given, exactly as Pebble does inside a real
container. With any other root a path that is not absolute, that climbs above `/` with
`..`, or that resolves (through a symlink) outside the root is refused with kind
`permission-denied`: the caller asked for something the container may not reach, which is
an access problem, not a malformed request. Symlinks inside the root work as usual;
absolute link targets are host paths, so one pointing outside is refused, not re-rooted.
(A workload racing the agent by swapping a directory for a symlink between the check and
the use is not defended against.)

Errors carry the container path, never the host one, in Go's `op path: reason` form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import grp
import os
import posixpath
import pwd
import re
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from runecraft.agents.pebble import _gotext, _users

__all__ = ["FileError", "Root", "WriteItem"]

NOT_FOUND = "not-found"
PERMISSION_DENIED = "permission-denied"
GENERIC = "generic-file-error"


class FileError(Exception):
    """One path's failure: Pebble's error kind and message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"message": self.message, "kind": self.kind}


def _os_error(op: str, path: str, exc: OSError) -> FileError:
    """Go's `*PathError` text (`stat /x: no such file or directory`) with its kind."""
    code = exc.errno or 0
    reason = os.strerror(code) if code else str(exc)
    message = f"{op} {path}: {reason[:1].lower()}{reason[1:]}"
    return FileError(_kind(code), message)


def _kind(code: int) -> str:
    if code == errno.ENOENT:
        return NOT_FOUND
    if code in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED
    return GENERIC


def not_absolute(path: str) -> FileError:
    return FileError(GENERIC, f"paths must be absolute, got {_gotext.go_quote(path)}")


@dataclass(frozen=True, kw_only=True)
class WriteItem:
    """One file of a push: where, and how it is to be made."""

    path: str
    make_dirs: bool = False
    permissions: str = ""
    account: _users.Account = dataclasses.field(default_factory=_users.Account)


class Root:
    """The container root, and the file operations of the API under it."""

    def __init__(self, root: Path) -> None:
        self._root = os.path.realpath(root)
        self._identity = self._root == "/"

    @property
    def path(self) -> Path:
        return Path(self._root)

    def host(self, path: str, *, follow: bool = True) -> str:
        """The host path of absolute container path `path`; FileError if it leads outside.

        `follow=False` leaves the last component unresolved (a symlink itself is
        replaced or removed, not its target).
        """
        if not path.startswith("/"):
            raise not_absolute(path)
        if self._identity:
            return path
        depth = 0
        for part in path.split("/"):
            if part == "..":
                depth -= 1
                if depth < 0:
                    raise self._outside(path)
            elif part not in ("", "."):
                depth += 1
        clean = posixpath.normpath("/" + path.lstrip("/"))
        host = self._root + ("" if clean == "/" else clean)
        if follow or clean == "/":
            resolved = os.path.realpath(host)
        else:
            resolved = os.path.join(
                os.path.realpath(os.path.dirname(host)), posixpath.basename(host)
            )
        if resolved != self._root and not resolved.startswith(self._root + "/"):
            raise self._outside(path)
        return resolved

    @staticmethod
    def _outside(path: str) -> FileError:
        return FileError(
            PERMISSION_DENIED,
            f"permission denied: {_gotext.go_quote(path)} leads outside the container root",
        )

    def read(self, path: str) -> bytes:
        """A regular file's content."""
        host = self.host(path)
        try:
            info = os.stat(host)
        except OSError as exc:
            raise _os_error("stat", path, exc) from None
        if not stat.S_ISREG(info.st_mode):
            raise FileError(GENERIC, f"can only read a regular file: {_gotext.go_quote(path)}")
        try:
            return Path(host).read_bytes()
        except OSError as exc:
            raise _os_error("open", path, exc) from None

    def list(self, path: str, pattern: str, itself: bool) -> list[dict[str, Any]]:
        """A directory's entries, or the path itself (not a directory, or `itself`)."""
        host = self.host(path)
        try:
            info = os.stat(host)
        except OSError as exc:
            raise _os_error("stat", path, exc) from None
        clean = posixpath.normpath(path) if path != "/" else "/"
        if itself or not stat.S_ISDIR(info.st_mode):
            name = posixpath.basename(clean) or "/"
            entries = [(name, posixpath.dirname(clean), info)]
        else:
            try:
                with os.scandir(host) as scan:
                    entries = [(e.name, clean, e.stat(follow_symlinks=False)) for e in scan]
            except OSError as exc:
                raise _os_error("open", path, exc) from None
        matcher = _go_glob(pattern) if pattern else None
        return [
            _file_info(posixpath.join(directory, name), info)
            for name, directory, info in sorted(entries, key=lambda e: e[0])
            if matcher is None or matcher.fullmatch(name)
        ]

    def write(self, item: WriteItem, content: bytes) -> None:
        """Write a file atomically (temporary file, then rename), as Pebble's writeFile."""
        host = self.host(item.path, follow=False)
        uid, gid = _owner(item.account)
        if item.make_dirs:
            parent = posixpath.dirname(posixpath.normpath(item.path))
            try:
                self._mkdir(parent, 0o755, uid, gid, parents=True, exist_ok=True)
            except FileError as exc:
                raise FileError(exc.kind, f"cannot create directory: {exc.message}") from None
        mode = _permissions(item.permissions, 0o644)
        temp = f"{host}.{secrets.token_hex(6)}~"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        except OSError as exc:
            raise _os_error("open", item.path, exc) from None
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), mode)
                if uid is not None and gid is not None:
                    os.fchown(out.fileno(), uid, gid)
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.rename(temp, host)
        except OSError as exc:
            with _quietly():
                os.unlink(temp)
            raise _os_error("write", item.path, exc) from None

    def make_dir(
        self, path: str, *, parents: bool, permissions: str, account: _users.Account
    ) -> None:
        """Pebble's make-dirs item: an existing directory is an error unless `parents`."""
        self.host(path)
        mode = _permissions(permissions, 0o755)
        uid, gid = _owner(account)
        self._mkdir(path, mode, uid, gid, parents=parents, exist_ok=parents)

    def _mkdir(
        self,
        path: str,
        mode: int,
        uid: int | None,
        gid: int | None,
        *,
        parents: bool,
        exist_ok: bool,
    ) -> None:
        host = self.host(path)
        try:
            info = os.stat(host)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _os_error("mkdir", path, exc) from None
        else:
            if not stat.S_ISDIR(info.st_mode):
                raise _os_error("mkdir", path, OSError(errno.ENOTDIR, ""))
            if exist_ok:
                return
            raise _os_error("mkdir", path, OSError(errno.EEXIST, ""))
        if parents and posixpath.dirname(path) != path:
            self._mkdir(posixpath.dirname(path), mode, uid, gid, parents=True, exist_ok=True)
        self._mkdir_one(path, host, mode, uid, gid)

    @staticmethod
    def _mkdir_one(path: str, host: str, mode: int, uid: int | None, gid: int | None) -> None:
        """One directory, made beside its place under a fresh name and renamed in, owner
        and mode set through its descriptor: a name planted beside it (a symlink out of
        the root) is never followed, only refused."""
        candidate = f"{host}.mkdir-{secrets.token_hex(8)}"
        try:
            os.mkdir(candidate, mode)  # EEXIST on anything already there, symlinks too
        except OSError as exc:
            raise _os_error("mkdir", path, exc) from None
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                if uid is not None and gid is not None:
                    os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            os.rename(candidate, host)
        except OSError as exc:
            with _quietly():
                os.rmdir(candidate)
            raise _os_error("mkdir", path, exc) from None

    def remove(self, path: str, recursive: bool) -> None:
        """Remove a path; `recursive` is `rm -rf` (a missing path is fine)."""
        host = self.host(path, follow=False)
        is_dir = os.path.isdir(host) and not os.path.islink(host)
        try:
            if is_dir and recursive:
                self._remove_tree(host)
            elif is_dir:
                os.rmdir(host)
            else:
                os.unlink(host)
        except FileNotFoundError:
            if not recursive:
                raise _os_error("remove", path, OSError(errno.ENOENT, "")) from None
        except OSError as exc:
            raise _os_error("remove", path, exc) from None

    def _remove_tree(self, host: str) -> None:
        """`rm -rf` of a directory; an error names the container path that failed."""
        try:
            with os.scandir(host) as scan:
                entries = list(scan)
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    self._remove_tree(entry.path)
                else:
                    with _quietly(errno.ENOENT):
                        os.unlink(entry.path)
            with _quietly(errno.ENOENT):
                os.rmdir(host)
        except FileError:
            raise
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _os_error("unlinkat", self._container_path(exc.filename or host), exc) from None

    def _container_path(self, host: str) -> str:
        if self._identity:
            return host
        return host[len(self._root) :] or "/"


@contextlib.contextmanager
def _quietly(*codes: int) -> Iterator[None]:
    """Ignore OSErrors (all, or those with the given errnos): cleanup after a failure."""
    try:
        yield
    except OSError as exc:
        if codes and exc.errno not in codes:
            raise


def _owner(account: _users.Account) -> tuple[int | None, int | None]:
    try:
        return _users.normalize_uid_gid(account)
    except ValueError as exc:
        raise FileError(GENERIC, f"cannot look up user and group: {exc}") from None


def _permissions(text: str, default: int) -> int:
    if not text:
        return default
    if len(text) != 3 or any(c not in "01234567" for c in text):
        raise FileError(
            GENERIC, f"permissions must be a 3-digit octal string, got {_gotext.go_quote(text)}"
        )
    return int(text, 8)


_TYPES = (
    (stat.S_ISREG, "file"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISFIFO, "named-pipe"),
    (stat.S_ISBLK, "device"),
    (stat.S_ISCHR, "device"),
)


def _file_info(path: str, info: os.stat_result) -> dict[str, Any]:
    kind = next((name for test, name in _TYPES if test(info.st_mode)), "unknown")
    modified = datetime.fromtimestamp(int(info.st_mtime), UTC).astimezone()
    stamp = modified.isoformat(timespec="seconds")
    result: dict[str, Any] = {
        "path": path,
        "name": posixpath.basename(path) or "/",
        "type": kind,
        "permissions": f"{stat.S_IMODE(info.st_mode) & 0o777:03o}",
        "last-modified": stamp.removesuffix("+00:00") + ("Z" if stamp.endswith("+00:00") else ""),
        "user-id": info.st_uid,
        "user": _user_name(info.st_uid),
        "group-id": info.st_gid,
        "group": _group_name(info.st_gid),
    }
    if kind == "file":
        result["size"] = info.st_size
    return result


@lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@lru_cache(maxsize=256)
def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _go_glob(pattern: str) -> re.Pattern[str]:
    """Go's `path.Match` pattern as a regex (`*`, `?`, `[...]` with `^` negation, `\\`)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            i += 1
            if i == len(pattern):
                raise _bad_pattern()
            out.append(re.escape(pattern[i]))
        elif char == "[":
            i = _go_class(pattern, i, out)
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def _go_class(pattern: str, start: int, out: list[str]) -> int:
    """A `[...]` class of a Go pattern appended to `out`; returns the index of its `]`."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    items: list[str] = []
    while i < len(pattern) and (pattern[i] != "]" or not items):
        if pattern[i] == "]":
            raise _bad_pattern()
        if pattern[i] == "\\":
            i += 1
        if i >= len(pattern):
            raise _bad_pattern()
        items.append(re.escape(pattern[i]) if pattern[i] != "-" else "-")
        i += 1
    if i >= len(pattern) or not items:
        raise _bad_pattern()
    out.append(("[^/" if negate else "[") + "".join(items) + "]")
    return i


def _bad_pattern() -> FileError:
    return FileError(GENERIC, "syntax error in pattern")


def json_field(item: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    """A JSON field of the expected type (null means absent); ValueError otherwise."""
    value = item.get(name)
    if value is None:
        return default
    if kind is int and isinstance(value, bool):
        raise ValueError(f"{name!r} must be a number")
    if not isinstance(value, kind):
        raise ValueError(f"{name!r} must be a {kind.__name__}")
    return value


def account_of(item: Mapping[str, Any]) -> _users.Account:
    """The `user-id`/`user`/`group-id`/`group` fields of a request item."""
    return _users.Account(
        user_id=json_field(item, "user-id", int, None),
        user=json_field(item, "user", str, ""),
        group_id=json_field(item, "group-id", int, None),
        group=json_field(item, "group", str, ""),
    )
