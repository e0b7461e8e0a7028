"""HTTP/1.1 over the unix socket (and an optional TCP listener), with websockets.

Every request goes through `Router.dispatch`, so every reply has Pebble's envelope. The
connection loop is h11's: keep-alive (the Go client) and `Connection: close` (ops, one
connection per request) both work, chunked bodies are de-chunked, and each connection is
its own task, so exec websockets, `/wait` and notice long-polls run side by side. A handler
whose client hangs up is cancelled (a long-poll must not outlive its caller).

The caller's uid comes from SO_PEERCRED (None over TCP). Beyond Pebble, a daemon that knows
its unit refuses a caller whose process says (`JUJU_UNIT_NAME` in /proc/<pid>/environ) it
acts for another unit: with several units on one host a charm reaching the wrong unit's
workload is a bug to stop at the door. It is a guard against mistakes, not a security
boundary (a process may clear its environment); uids remain that boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import urllib.parse
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import h11
import wsproto.connection
import wsproto.events
import wsproto.utilities
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.frame_protocol import CloseReason

from runecraft.agents.pebble import _http, _websocket

__all__ = ["Peer", "Server", "peer_of"]

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024
MAX_BODY = 256 * 1024 * 1024
"""Largest request body (a push is held in memory while it is checked and written)."""
_UCRED = struct.Struct("3i")


@dataclass(frozen=True)
class Peer:
    """Who is calling: SO_PEERCRED's pid and uid, and the unit its process acts for."""

    pid: int | None = None
    uid: int | None = None
    unit: str | None = None


def peer_of(sock: socket.socket) -> Peer:
    """The peer of a unix socket connection (pid 0 means it is in a PID namespace we
    cannot see, so its unit is unknown)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, _gid = _UCRED.unpack(raw)
    return Peer(pid=pid or None, uid=uid, unit=_unit_of(pid) if pid else None)


def _unit_of(pid: int) -> str | None:
    """`JUJU_UNIT_NAME` from the environment the process was started with, if readable.

    A hook forked from a fork server shows that server's start-up environment, not the
    hook's: this holds because every unit has a fork server of its own, started with its
    unit's name. The guard stops mistakes, not a process that clears its own environment;
    uids remain the boundary between users."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(b"JUJU_UNIT_NAME="):
            return entry.partition(b"=")[2].decode(errors="replace") or None
    return None


def unix_listener(path: Path) -> socket.socket:
    """A listening socket at `path` with mode 0666 (umask 0111, as Pebble: access is
    decided per request from peer credentials). A stale socket file is replaced; one a
    live daemon answers on is an error."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        pass
    else:
        raise OSError(f'socket "{path}" already in use')
    finally:
        probe.close()
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o111)
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(old)
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Server:
    """Serves one `Router` on any number of listeners until `close()`."""

    def __init__(self, router: _http.Router, *, unit: str | None = None) -> None:
        self._router = router
        self._unit = unit
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()

    async def listen_unix(self, path: Path) -> None:
        """Listen on a unix socket (see `unix_listener`)."""
        server = await asyncio.start_unix_server(self._accept_unix, sock=unix_listener(path))
        self._servers.append(server)

    async def listen_tcp(self, address: str) -> str:
        """Listen on `HOST:PORT` (`:PORT` is every interface, as Go reads it); returns the
        bound `host:port`, so port 0 can be used."""
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"invalid HTTP address {address!r}: want [HOST]:PORT")
        server = await asyncio.start_server(
            self._accept_tcp, host.strip("[]") or None, int(port), reuse_address=True
        )
        self._servers.append(server)
        bound = server.sockets[0].getsockname()
        return f"{bound[0]}:{bound[1]}"

    async def close(self) -> None:
        """Stop listening and drop every connection (their handlers are cancelled)."""
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _accept_unix(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            peer = peer_of(writer.get_extra_info("socket"))
        except OSError:
            peer = Peer()
        await self._own(reader, writer, peer)

    async def _accept_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._own(reader, writer, Peer())

    async def _own(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _Connection(self, reader, writer, peer).serve()
        finally:
            self._connections.discard(task)

    def refusal(self, peer: Peer) -> _http.PebbleError | None:
        """The error for a caller acting for another unit, else None."""
        if self._unit and peer.unit and peer.unit != self._unit:
            return _http.PebbleError(
                403,
                f'access denied: unit "{peer.unit}" cannot use the workloads of unit '
                f'"{self._unit}"',
                kind="permission-denied",
            )
        return None

    async def dispatch(self, request: _http.Request, peer: Peer) -> _http.Response:
        refused = self.refusal(peer)
        if refused is not None:
            return _http.error_response(refused)
        return await self._router.dispatch(request)


class _Connection:
    """One client connection: requests in turn (HTTP/1.1), then maybe a websocket."""

    def __init__(
        self,
        server: Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Peer,
    ) -> None:
        self._server = server
        self._reader = reader
        self._writer = writer
        self._peer = peer
        self._h11 = h11.Connection(h11.SERVER)

    async def serve(self) -> None:
        try:
            await self._loop()
        except h11.RemoteProtocolError as exc:
            await self._refuse(exc)
        except h11.LocalProtocolError as exc:  # a reply HTTP does not allow: drop the line
            logger.warning("cannot reply: %s", exc)
        except (ConnectionError, OSError):
            pass
        finally:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()

    async def _loop(self) -> None:
        while True:
            request = await self._read_request()
            if request is None:
                return
            response = await self._respond(request)
            if response is None:
                return
            if isinstance(response, _websocket.Upgrade):
                if _is_websocket(request):
                    await self._switch(request, response)
                    return
                response = _http.error_response(
                    _http.PebbleError(400, "expected a websocket upgrade request")
                )
            await self._send(response, head=request.method == "HEAD")
            if self._h11.our_state is not h11.DONE or self._h11.their_state is not h11.DONE:
                return
            self._h11.start_next_cycle()

    async def _next_event(self) -> object:
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await self._reader.read(_CHUNK)
            except (ConnectionError, OSError):
                data = b""
            self._h11.receive_data(data)

    async def _read_request(self) -> _http.Request | None:
        event = await self._next_event()
        if not isinstance(event, h11.Request):
            return None
        if self._h11.they_are_waiting_for_100_continue:
            self._writer.write(
                self._h11.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
            )
        body = bytearray()
        while True:
            part = await self._next_event()
            if isinstance(part, h11.Data):
                body += part.data
                if len(body) > MAX_BODY:
                    raise h11.RemoteProtocolError(
                        f"request body larger than {MAX_BODY // (1024 * 1024)} MiB",
                        error_status_hint=413,
                    )
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                return None
        return _request(event, bytes(body), self._peer)

    async def _respond(self, request: _http.Request) -> _http.Response | None:
        """The handler's reply, or None if the client hung up first (handler cancelled)."""
        handler = asyncio.ensure_future(self._server.dispatch(request, self._peer))
        watcher = asyncio.ensure_future(self._reader.read(_CHUNK))
        try:
            await asyncio.wait({handler, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher.done():
                try:
                    data = watcher.result()
                except (ConnectionError, OSError):
                    data = b""
                self._h11.receive_data(data)  # a pipelined request, or the client's EOF
                if not data and not handler.done():
                    handler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await handler
                    return None
            return await handler
        finally:
            for task in (handler, watcher):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                        await task

    async def _send(self, response: _http.Response, *, head: bool = False) -> None:
        headers = [
            ("content-type", response.content_type),
            ("content-length", str(len(response.body))),
            *response.headers,
        ]
        start = h11.Response(
            status_code=response.status, headers=headers, reason=_phrase(response.status)
        )
        self._writer.write(self._h11.send(start) or b"")
        if response.body and not head:  # a HEAD reply has the headers only
            self._writer.write(self._h11.send(h11.Data(data=response.body)) or b"")
        self._writer.write(self._h11.send(h11.EndOfMessage()) or b"")
        await self._writer.drain()

    async def _refuse(self, exc: h11.RemoteProtocolError) -> None:
        """Answer a malformed request with a 4xx envelope when HTTP still allows it."""
        if self._h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
        error = _http.PebbleError(status, f"cannot parse request: {exc}")
        with contextlib.suppress(ConnectionError, OSError, h11.LocalProtocolError):
            await self._send(_http.error_response(error))

    async def _switch(self, request: _http.Request, response: _websocket.Upgrade) -> None:
        key = request.headers["sec-websocket-key"].encode()
        head = h11.InformationalResponse(
            status_code=101,
            headers=[
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-accept", wsproto.utilities.generate_accept_token(key).decode()),
            ],
        )
        self._writer.write(self._h11.send(head) or b"")
        await self._writer.drain()
        trailing, _closed = self._h11.trailing_data
        ws = _ServerWebSocket(self._reader, self._writer, bytes(trailing))
        try:
            await response.accept(ws)
        finally:
            await ws.close()


def _request(event: h11.Request, body: bytes, peer: Peer) -> _http.Request:
    target = urllib.parse.urlsplit(event.target.decode("latin-1"))
    headers: dict[str, str] = {}
    for raw_name, raw_value in event.headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return _http.Request(
        method=event.method.decode("ascii"),
        path=target.path or "/",
        query=urllib.parse.parse_qs(target.query, keep_blank_values=True),
        headers=headers,
        body=body,
        uid=peer.uid,
    )


def _is_websocket(request: _http.Request) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("connection", "").lower()
        and request.headers.get("sec-websocket-version") == "13"
        and bool(request.headers.get("sec-websocket-key"))
    )


def _phrase(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class _ServerWebSocket:
    """RFC 6455 framing (wsproto) over the connection h11 handed over after its 101."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, trailing: bytes
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._ws = wsproto.connection.Connection(ConnectionType.SERVER)
        self._events: deque[wsproto.events.Event] = deque()
        self._parts: list[bytes | str] = []
        self._gone = False
        self._abnormal = False
        if trailing:
            self._feed(trailing)

    @property
    def abnormal(self) -> bool:
        return self._abnormal

    async def receive(self) -> bytes | str | None:
        while True:
            while self._events:
                message = await self._handle(self._events.popleft())
                if message is not None:
                    return message
            if self._gone or self._ws.state is ConnectionState.CLOSED:
                return None
            try:
                data = await self._reader.read(_CHUNK)
            except (ConnectionError, OSError):
                data = b""
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        if self._ws.state is not ConnectionState.CLOSED:
            self._ws.receive_data(data or None)  # None: EOF, a close without a frame
            self._events.extend(self._ws.events())

    async def _handle(self, event: wsproto.events.Event) -> bytes | str | None:
        if isinstance(event, wsproto.events.Message):
            self._parts.append(event.data)
            if not event.message_finished:
                return None
            parts, self._parts = self._parts, []
            if isinstance(event, wsproto.events.TextMessage):
                return "".join(p for p in parts if isinstance(p, str))
            return b"".join(p for p in parts if isinstance(p, bytes | bytearray))
        if isinstance(event, wsproto.events.Ping):
            await self._write(event.response())
        elif isinstance(event, wsproto.events.CloseConnection):
            self._abnormal = event.code == CloseReason.ABNORMAL_CLOSURE
            if self._ws.state is ConnectionState.REMOTE_CLOSING:
                await self._write(event.response())
            else:  # a frame wsproto could not parse: close with its code
                await self._write(wsproto.events.CloseConnection(code=event.code))
            self._gone = True
        return None

    async def send(self, message: bytes | str) -> None:
        if isinstance(message, str):
            await self._write(wsproto.events.TextMessage(data=message))
        else:
            await self._write(wsproto.events.BytesMessage(data=message))

    async def _write(self, event: wsproto.events.Event) -> None:
        if self._gone or self._ws.state not in (
            ConnectionState.OPEN,
            ConnectionState.REMOTE_CLOSING,
        ):
            return
        if self._ws.state is ConnectionState.REMOTE_CLOSING and not isinstance(
            event, wsproto.events.CloseConnection
        ):
            return
        try:
            self._writer.write(self._ws.send(event))
            await self._writer.drain()
        except (ConnectionError, OSError):
            self._gone = True

    async def close(self) -> None:
        await self._write(wsproto.events.CloseConnection(code=CloseReason.NORMAL_CLOSURE))
        self._gone = True
        self._writer.close()
