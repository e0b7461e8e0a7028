"""`/v1/files`: pull (multipart reply), list, push (multipart request), make-dirs, remove.

Wire rules that real clients depend on (pebble.md §3.7, §6.4): a pull always answers 200
and ends with a `response` part carrying per-path errors; push, make-dirs and remove answer
200 with per-item errors; list answers real HTTP errors (404 for a missing path is how
`Container.exists()` works). Push bodies arrive chunked with a quoted boundary of at least
32 characters, and each part's filename is the full path. File work runs in a thread so a
large push or pull does not hold up the event loop (exec streams, long-polls).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

from runecraft.agents.pebble import _files, _gotext, _http

__all__ = ["add_routes", "parse_header"]

_MIN_BOUNDARY = 32


def add_routes(router: _http.Router, root: _files.Root) -> None:
    """Serve `/v1/files` (admin only, as in Pebble) for files under `root`."""
    api = _FilesApi(root)
    router.add("/v1/files", {"GET": api.get, "POST": api.post})


def parse_header(value: str) -> tuple[str, dict[str, str]]:
    """`type/sub; a=b; c="d"` → (`type/sub`, {a: b, c: d}) with Go's quoted-string rules
    (backslash escapes); ValueError if malformed."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        if i >= n:
            break
        eq = rest.find("=", i)
        if eq < 0:
            raise ValueError(f"invalid parameter in {value!r}")
        name = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            chars, i = _quoted(rest, i + 1)
        else:
            end = rest.find(";", i)
            end = n if end < 0 else end
            chars, i = rest[i:end].strip(), end
        params[name] = chars
    media = head.strip().lower()
    if not media:
        raise ValueError(f"no media type in {value!r}")
    return media, params


def _quoted(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise ValueError("unterminated quoted string")


def _parts(body: bytes, boundary: str) -> Iterator[tuple[dict[str, str], bytes]]:
    """The parts of a multipart body: (lower-cased headers, content)."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    data = b"\r\n" + body
    start = data.find(delimiter)
    if start < 0:
        raise ValueError("multipart: no boundary found")
    while True:
        after = start + len(delimiter)
        if data[after : after + 2] == b"--":
            return
        line_end = data.find(b"\r\n", after)
        if line_end < 0 or data[after:line_end].strip(b" \t"):
            raise ValueError("multipart: malformed boundary line")
        head_end = data.find(b"\r\n\r\n", line_end)
        following = data.find(delimiter, line_end)
        if following < 0:
            raise ValueError("multipart: NextPart: EOF")
        if head_end < 0 or head_end > following:
            raise ValueError("multipart: malformed MIME header")
        yield _part_headers(data[line_end + 2 : head_end]), data[head_end + 4 : following]
        start = following


def _part_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _disposition(headers: dict[str, str]) -> tuple[str, str]:
    """A part's form name and filename (the full path, never a basename)."""
    try:
        _kind, params = parse_header(headers.get("content-disposition", ""))
    except ValueError:
        return "", ""
    return params.get("name", ""), params.get("filename", "")


def _go_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _result(path: str, error: _files.FileError | None) -> dict[str, Any]:
    item: dict[str, Any] = {"path": path}
    if error is not None:
        item["error"] = error.to_json()
    return item


class _FilesApi:
    def __init__(self, root: _files.Root) -> None:
        self._root = root

    async def get(self, request: _http.Request) -> _http.Response:
        action = request.arg("action")
        if action == "read":
            paths = request.query.get("path", [])
            if not paths:
                raise _http.PebbleError(400, "must specify one or more paths")
            if request.headers.get("accept") != "multipart/form-data":
                raise _http.PebbleError(400, "must accept multipart/form-data")
            return await asyncio.to_thread(self._pull, paths)
        if action == "list":
            return await self._list(request)
        raise _http.PebbleError(400, f"invalid action {_gotext.go_quote(action)}")

    def _pull(self, paths: Sequence[str]) -> _http.Response:
        boundary = secrets.token_hex(30)
        chunks: list[bytes] = []
        results = []
        for path in paths:
            try:
                content = self._root.read(path)
            except _files.FileError as exc:
                results.append(_result(path, exc))
                continue
            results.append(_result(path, None))
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{_go_escape(path)}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            )
            chunks += [head.encode(), content, b"\r\n"]
        envelope = {"type": "sync", "status-code": 200, "status": "OK", "result": results}
        chunks += [
            f'--{boundary}\r\nContent-Disposition: form-data; name="response"\r\n'
            "Content-Type: application/json\r\n\r\n".encode(),
            json.dumps(envelope).encode() + b"\n",
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        return _http.Response(
            status=200,
            body=b"".join(chunks),
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    async def _list(self, request: _http.Request) -> _http.Response:
        path = request.arg("path")
        if not path:
            raise _http.PebbleError(400, "must specify path")
        itself = request.arg("itself")
        if itself not in ("true", "false", ""):
            raise _http.PebbleError(400, 'itself parameter must be "true" or "false"')
        if not path.startswith("/"):
            raise _http.PebbleError(400, f"path must be absolute, got {_gotext.go_quote(path)}")
        try:
            entries = await asyncio.to_thread(
                self._root.list, path, request.arg("pattern"), itself == "true"
            )
        except _files.FileError as exc:
            status = {_files.NOT_FOUND: 404, _files.PERMISSION_DENIED: 403}.get(exc.kind, 400)
            raise _http.PebbleError(status, exc.message, kind=exc.kind) from None
        return _http.sync_response(entries)

    async def post(self, request: _http.Request) -> _http.Response:
        content_type = request.headers.get("content-type", "")
        try:
            media, params = parse_header(content_type)
        except ValueError:
            raise _http.PebbleError(
                400, f"invalid Content-Type {_gotext.go_quote(content_type)}"
            ) from None
        if media == "multipart/form-data":
            boundary = params.get("boundary", "")
            if len(boundary) < _MIN_BOUNDARY:
                raise _http.PebbleError(400, f"invalid boundary {_gotext.go_quote(boundary)}")
            files, contents = _push_request(request.body, boundary)
            return _http.sync_response(await asyncio.to_thread(self._push, files, contents))
        if media == "application/json":
            return await self._json_action(request)
        raise _http.PebbleError(400, f"invalid media type {_gotext.go_quote(media)}")

    def _push(
        self, files: Sequence[_files.WriteItem], contents: dict[str, bytes]
    ) -> list[dict[str, Any]]:
        results = []
        for item in files:
            error = None
            content = contents.get(item.path)
            try:
                if content is None:
                    raise _files.FileError(
                        _files.GENERIC, f"no file content for path {_gotext.go_quote(item.path)}"
                    )
                self._root.write(item, content)
            except _files.FileError as exc:
                error = exc
            results.append(_result(item.path, error))
        return results

    async def _json_action(self, request: _http.Request) -> _http.Response:
        payload = request.json_object()
        action = payload.get("action")
        if action == "make-dirs":
            items = _items(payload, "dirs")
            return _http.sync_response(await asyncio.to_thread(self._make_dirs, items))
        if action == "remove":
            items = _items(payload, "paths")
            return _http.sync_response(await asyncio.to_thread(self._remove, items))
        if action == "write":
            raise _http.PebbleError(400, 'must use multipart with "write" action')
        raise _http.PebbleError(400, f"invalid action {_gotext.go_quote(str(action or ''))}")

    def _make_dirs(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        results = []
        for item in items:
            path, error = item.get("path") or "", None
            try:
                self._root.make_dir(
                    path,
                    parents=bool(item.get("make-parents")),
                    permissions=_files.json_field(item, "permissions", str, ""),
                    account=_files.account_of(item),
                )
            except _files.FileError as exc:
                error = exc
            results.append(_result(path, error))
        return results

    def _remove(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        results = []
        for item in items:
            path, error = item.get("path") or "", None
            try:
                self._root.remove(path, bool(item.get("recursive")))
            except _files.FileError as exc:
                error = exc
            results.append(_result(path, error))
        return results


def _items(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The JSON list `key` of objects with a string `path` and well-typed fields."""
    items = payload.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _http.PebbleError(400, f"cannot decode request body: {key!r} must be a list")
    try:
        for item in items:
            _files.json_field(item, "path", str, "")
            _files.json_field(item, "permissions", str, "")
            _files.account_of(item)
            for flag in ("make-parents", "recursive"):
                _files.json_field(item, flag, bool, False)
    except ValueError as exc:
        raise _http.PebbleError(400, f"cannot decode request body: {exc}") from None
    return items


def _push_request(body: bytes, boundary: str) -> tuple[list[_files.WriteItem], dict[str, bytes]]:
    """The files a push asks for and their contents; the whole body is checked before
    anything is written, so a malformed request changes nothing."""
    try:
        parts = list(_parts(body, boundary))
    except ValueError as exc:
        raise _http.PebbleError(400, f"cannot read request metadata: {exc}") from None
    if not parts:
        raise _http.PebbleError(400, "cannot read request metadata: EOF")
    (headers, raw), *file_parts = parts
    name, _ = _disposition(headers)
    if name != "request":
        raise _http.PebbleError(
            400, f'metadata field name must be "request", got {_gotext.go_quote(name)}'
        )
    files = _write_items(raw)
    paths = {item.path for item in files}
    contents: dict[str, bytes] = {}
    for headers, content in file_parts:
        name, filename = _disposition(headers)
        if name != "files":
            raise _http.PebbleError(
                400, f'field name must be "files", got {_gotext.go_quote(name)}'
            )
        if filename not in paths:
            raise _http.PebbleError(400, f"no metadata for path {_gotext.go_quote(filename)}")
        contents[filename] = content
    return files, contents


def _write_items(raw: bytes) -> list[_files.WriteItem]:
    try:
        payload = json.loads(raw)
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object")
        action = _files.json_field(payload, "action", str, "")
        entries = _files.json_field(payload, "files", list, [])
        files = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ValueError("each file must be a JSON object")
            files.append(
                _files.WriteItem(
                    path=_files.json_field(entry, "path", str, ""),
                    make_dirs=_files.json_field(entry, "make-dirs", bool, False),
                    permissions=_files.json_field(entry, "permissions", str, ""),
                    account=_files.account_of(entry),
                )
            )
    except ValueError as exc:
        raise _http.PebbleError(400, f"cannot decode request metadata: {exc}") from None
    if action != "write":
        raise _http.PebbleError(
            400, f'multipart action must be "write", got {_gotext.go_quote(action)}'
        )
    if not files:
        raise _http.PebbleError(400, "must specify one or more files")
    return files
