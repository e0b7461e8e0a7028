"""The emulated Charmhub: a threaded `http.server` on 127.0.0.1 and a random port."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runecraft import charms
from runecraft.client._charmhub import host_architecture

__all__ = ["CharmhubEmulator", "Published", "packed_variant"]

RELEASED_AT = "2026-01-01T00:00:00.000000+00:00"


def packed_variant(
    source: Path, workdir: Path, cache_dir: Path, replacements: Mapping[str, tuple[str, str]]
) -> bytes:
    """The archive of a copy of the charm at `source` with some of its files changed
    (`{relative path: (old text, new text)}`), packed by Runecraft's own packer: another
    revision of the same charm."""
    digest = hashlib.sha256(repr(sorted(replacements.items())).encode()).hexdigest()
    copy = workdir / f"{source.name}-{digest[:8]}"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(source, copy)
    for relative, (old, new) in replacements.items():
        path = copy / relative
        text = path.read_text()
        assert old in text, f"{relative} has no {old!r}"
        path.write_text(text.replace(old, new))
    return charms.pack(copy, cache_dir).data


@dataclass
class Published:
    """One revision of a charm and the channels it is released to."""

    name: str
    revision: int
    data: bytes
    channels: list[str]
    version: str = ""
    base: tuple[str, str] = ("ubuntu", "22.04")
    summary: str = ""
    description: str = ""
    corrupt: bool = False
    """Serve other bytes than the published sha256 describes (a broken mirror)."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def charm_id(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()[:32]

    def base_doc(self) -> dict[str, str]:
        return {"name": self.base[0], "channel": self.base[1], "architecture": host_architecture()}

    def archive_file(self, name: str) -> str:
        try:
            with zipfile.ZipFile(BytesIO(self.data)) as archive:
                return archive.read(name).decode()
        except KeyError:
            return ""


@dataclass
class CharmhubEmulator:
    """Serves what `publish` added until `stop`; `requests` lists every path asked."""

    published: list[Published] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def publish(
        self, name: str, revision: int, data: bytes, *channels: str, **kw: Any
    ) -> Published:
        entry = Published(name=name, revision=revision, data=data, channels=list(channels), **kw)
        self.published.append(entry)
        return entry

    def start(self) -> CharmhubEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `requests` instead."""

            def do_GET(self) -> None:
                emulator._answer(self, "GET")

            def do_POST(self) -> None:
                emulator._answer(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CharmhubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- answers ---------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.requests.append(f"{method} {parts.path}")
        path = parts.path
        if method == "GET" and path.startswith("/v2/charms/info/"):
            status, body = self._info(path.removeprefix("/v2/charms/info/"), query.get("channel"))
        elif method == "GET" and path == "/v2/charms/find":
            status, body = 200, {"results": self._find(query.get("q", ""))}
        elif method == "POST" and path == "/v2/charms/refresh":
            length = int(handler.headers.get("Content-Length", "0"))
            status, body = 200, self._refresh(json.loads(handler.rfile.read(length)))
        elif method == "GET" and path.startswith("/api/v1/charms/download/"):
            self._download(handler, path.rsplit("/", 1)[1])
            return
        else:
            status, body = 404, {"error-list": [{"code": "not-found", "message": "Not found"}]}
        content = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    def _revisions(self, name: str) -> list[Published]:
        return sorted((p for p in self.published if p.name == name), key=lambda p: -p.revision)

    def _revision_doc(self, entry: Published, *, metadata: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "revision": entry.revision,
            "version": entry.version,
            "created-at": RELEASED_AT,
            "bases": [entry.base_doc()],
            "download": {
                "hash-sha-256": entry.sha256,
                "size": len(entry.data),
                "url": f"{self.url}/api/v1/charms/download/{entry.charm_id}_{entry.revision}.charm",
            },
        }
        if metadata:
            doc["metadata-yaml"] = entry.archive_file("metadata.yaml")
            doc["config-yaml"] = entry.archive_file("config.yaml")
        return doc

    def _channel_doc(self, entry: Published, channel: str) -> dict[str, Any]:
        track, risk = channel.split("/")[:2]
        return {
            "name": channel,
            "track": track,
            "risk": risk,
            "released-at": RELEASED_AT,
            "base": entry.base_doc(),
        }

    def _channel_map(self, name: str) -> list[dict[str, Any]]:
        return [
            {"channel": self._channel_doc(entry, channel), "revision": self._revision_doc(entry)}
            for entry in self._revisions(name)
            for channel in entry.channels
        ]

    def _default(self, name: str) -> Published:
        revisions = self._revisions(name)
        for risk in ("stable", "candidate", "beta", "edge"):
            for entry in revisions:
                if f"latest/{risk}" in entry.channels:
                    return entry
        return revisions[0]

    def _entity(self, entry: Published) -> dict[str, Any]:
        return {
            "summary": entry.summary,
            "description": entry.description,
            "publisher": {"display-name": "Runecraft tests"},
            "store-url": f"https://charmhub.io/{entry.name}",
            "categories": [],
        }

    def _info(self, name: str, channel: str | None) -> tuple[int, dict[str, Any]]:
        revisions = self._revisions(name)
        if not revisions:
            return 404, {
                "error-list": [
                    {
                        "code": "resource-not-found",
                        "message": f"No charm or bundle with name '{name}'.",
                    }
                ]
            }
        default = self._default(name)
        channel_map = self._channel_map(name)
        if channel:
            channel_map = [c for c in channel_map if c["channel"]["name"] == channel]
        default_channel = next(c for c in default.channels)
        return 200, {
            "type": "charm",
            "id": default.charm_id,
            "name": name,
            "result": self._entity(default),
            "channel-map": channel_map,
            "default-release": {
                "channel": self._channel_doc(default, default_channel),
                "revision": self._revision_doc(default, metadata=True),
            },
        }

    def _find(self, query: str) -> list[dict[str, Any]]:
        names = sorted({p.name for p in self.published})
        results = []
        for name in names:
            default = self._default(name)
            if query.lower() not in name.lower() and query.lower() not in default.summary.lower():
                continue
            results.append(
                {
                    "type": "charm",
                    "id": default.charm_id,
                    "name": name,
                    "result": self._entity(default),
                    "default-release": {
                        "channel": self._channel_doc(default, default.channels[0]),
                        "revision": self._revision_doc(default),
                    },
                }
            )
        return results

    def _refresh(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"results": [self._resolve(action) for action in request["actions"]]}

    def _resolve(self, action: dict[str, Any]) -> dict[str, Any]:
        name = action.get("name", "")
        key = action.get("instance-key", "")
        revisions = self._revisions(name)
        if not revisions:
            return _error(key, name, "name-not-found", "Name not found in the charm store")
        base = action.get("base") or {}
        wanted = (base.get("name"), base.get("channel"), base.get("architecture"))
        releases = [
            {"base": entry.base_doc(), "channel": channel}
            for entry in revisions
            for channel in entry.channels
        ]
        for entry in revisions:
            doc = entry.base_doc()
            if (doc["name"], doc["channel"], doc["architecture"]) != wanted:
                continue
            if "revision" in action:
                if entry.revision != action["revision"]:
                    continue
                channel = ""
            elif action.get("channel") in entry.channels:
                channel = action["channel"]
            else:
                continue
            return {
                "result": action["action"],
                "instance-key": key,
                "name": name,
                "id": entry.charm_id,
                "effective-channel": channel,
                "released-at": RELEASED_AT,
                "charm": {
                    "type": "charm",
                    "id": entry.charm_id,
                    "name": name,
                    "revision": entry.revision,
                    "version": entry.version,
                    "bases": [doc],
                    "download": self._revision_doc(entry)["download"],
                },
            }
        return _error(
            key, name, "revision-not-found", "No revision was found in the Store.", releases
        )

    def _download(self, handler: BaseHTTPRequestHandler, file: str) -> None:
        stem = file.removesuffix(".charm")
        for entry in self.published:
            if f"{entry.charm_id}_{entry.revision}" == stem:
                data = entry.data + (b"tampered" if entry.corrupt else b"")
                handler.send_response(200)
                handler.send_header("Content-Type", "application/octet-stream")
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)
                return
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


def _error(
    key: str, name: str, code: str, message: str, releases: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "result": "error",
        "instance-key": key,
        "name": name,
        "error": {"code": code, "message": message, "extra": {"releases": releases or []}},
    }
