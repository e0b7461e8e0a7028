"""What both clients share about the wire (timeouts, paths, the controller's error answers),
and `get`: a GET of the API with the standard library.

Jubilant runs `status --format json` every second; through `Client` that one GET loads
httpx, anyio, asyncio and the pydantic schemas, which cost several times the request.
`get` loads `http.client` and `ssl`. It only makes the request `Client` would make, and
only answers as `Client` would: a request `Client` would make otherwise (through a proxy
from the environment, to an https endpoint trusted through the system's CAs, to a URL that
needs quoting) or that gets no answer `Client` would decode the same way (no connection,
a TLS refusal, a timeout, an error that is not the controller's) raises `Unanswered`, and
the caller asks `Client`, whose answer or error message is the one users know.
"""

from __future__ import annotations

import json
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from runecraft import _tracing, errors, settings

__all__ = ["CONNECT_TIMEOUT", "TIMEOUT", "Unanswered", "error_from", "get", "status_path"]

TIMEOUT = 60.0
"""Seconds a request may wait on each read (and write) by default."""

CONNECT_TIMEOUT = 5.0
"""Seconds to connect (and for https, to shake hands) before giving up."""

_PLAIN_PATH = re.compile(r"(/[A-Za-z0-9._-]+)+")
"""A path no client quotes: `get` takes no other."""


class Unanswered(Exception):  # noqa: N818 (a signal to ask `Client`, never shown to users)
    """`get` leaves this request to `Client`."""


def status_path(model: str) -> str:
    """Where both clients ask for a model's status."""
    return f"/v1/models/{model}/status"


def error_from(content: bytes) -> errors.RunecraftError | None:
    """The error the controller raised, from its answer's body (`{"error": {"code": …,
    "message": …}}`); None when the body is not such an answer."""
    try:
        detail = json.loads(content)["error"]
        cls = errors.BY_CODE.get(detail["code"], errors.RunecraftError)
        message = str(detail["message"])
    except (ValueError, KeyError, TypeError):
        return None
    return cls(message)


def get(endpoint: str, token: str, ca_cert: str | None, path: str, timeout: float = TIMEOUT) -> Any:
    """The decoded JSON answer of `GET path` (with no query), as `Client` decodes it: a
    success's document, or the controller's error raised; `timeout` as `Client`'s, and
    `CONNECT_TIMEOUT` to connect. Raises `Unanswered` as the module says."""
    import http.client  # noqa: PLC0415 (only the command that reads pays for it)

    url = urlsplit(endpoint)
    try:  # a port always: http.client would read `::1` as host `:` and port 1
        host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    except ValueError as exc:
        raise Unanswered(f"endpoint {endpoint}: {exc}") from exc
    if (
        url.scheme not in ("http", "https")
        or not host
        or url.path not in ("", "/")
        or url.query
        or url.fragment
        or url.username is not None
        or not token
        or (url.scheme == "https" and not ca_cert)
        or not _PLAIN_PATH.fullmatch(path)
        or settings.proxy_in_env()
    ):
        raise Unanswered(f"GET {path} of {endpoint}")
    connection: http.client.HTTPConnection | None = None
    try:
        if url.scheme == "https":
            import ssl  # noqa: PLC0415

            context = ssl.create_default_context(cadata=ca_cert)
            connection = http.client.HTTPSConnection(
                host, port, timeout=CONNECT_TIMEOUT, context=context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT)
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request(
            "GET", path, headers={"Authorization": f"Bearer {token}", **_tracing.headers()}
        )
        _acknowledge_at_once(connection.sock)
        response = connection.getresponse()
        status, content = response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise Unanswered(f"GET {path} of {endpoint}: {exc}") from exc
    finally:
        if connection is not None:
            connection.close()
    return _decoded(status, content, path)


def _acknowledge_at_once(sock: socket.socket | None) -> None:
    """The controller writes an answer's head and body apart (two TLS records), and the
    body waits for the head's ACK, which Linux delays by up to 40 ms (measured: 42 ms of a
    1 ms GET): ask for ACKs at once."""
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and quickack is not None:
        sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _decoded(status: int, content: bytes, path: str) -> Any:
    if 200 <= status < 300:
        try:
            return json.loads(content) if content else None
        except ValueError as exc:
            raise Unanswered(f"GET {path}: {exc}") from exc
    error = error_from(content)
    if error is None:
        raise Unanswered(f"GET {path}: HTTP {status}")
    raise error
