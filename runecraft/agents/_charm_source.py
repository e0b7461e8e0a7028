"""Fetch charm archives from the controller's HTTP API.

`GET {api_url}/v1/charms/{sha256}/archive` with the agent's bearer token. The body is
checked against the hash it was asked for, so a proxy or a bug can never make a unit run a
charm other than the one the controller chose. Transport errors are mapped to Runecraft's
at this edge: network trouble and 5xx are temporary, 404 is not-found, 401/403 permission.

The standard library's `http.client` does the request, in a worker thread: a machine agent
fetches a charm once per unit, and an HTTP client library would be imported (and held in
memory) by every agent on every machine for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

from runecraft import errors

__all__ = ["HttpCharmSource"]

TIMEOUT = 60.0
"""Seconds a connect or a read may take before the fetch is a temporary failure."""


@dataclass(frozen=True)
class _Response:
    status: int
    content: bytes


class HttpCharmSource:
    """`unit.CharmSource` over the controller API."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        verify: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        """`verify`: what an https API is verified against (None: the system's CAs)."""
        self._base = urllib.parse.urlsplit(api_url.rstrip("/"))
        self._headers = {"Authorization": f"Bearer {token}"}
        self._verify = verify
        self._timeout = timeout

    async def fetch(self, sha256: str) -> bytes:
        """The verified archive for `sha256`."""
        what = f"charm {sha256}"
        response = await self._get(f"/v1/charms/{sha256}/archive", what)
        status = response.status
        if status in (401, 403):
            raise errors.PermissionDeniedError(f"controller refused {what} ({status})")
        if status == 429 or status >= 500:
            raise errors.TemporaryError(f"controller answered {status} for {what}")
        if status != 200:
            raise errors.PermanentError(f"controller answered {status} for {what}")
        body = response.content
        digest = hashlib.sha256(body).hexdigest()
        if digest != sha256:
            raise errors.PermanentError(f"charm download has sha256 {digest}, expected {sha256}")
        return body

    async def fetch_resource(self, sha256: str) -> bytes:
        """An application resource file by hash (`GET /v1/resources/{sha256}`)."""
        what = f"resource {sha256}"
        response = await self._get(f"/v1/resources/{sha256}", what)
        if response.status != 200:
            raise errors.TemporaryError(f"controller answered {response.status} for {what}")
        return response.content

    async def fetch_credential(self, unit: str) -> dict[str, Any]:
        """The cloud spec of a trusted unit's model (`GET /v1/agent/credential`)."""
        what = f"the cloud credential of {unit}"
        query = urllib.parse.urlencode({"unit": unit})
        response = await self._get(f"/v1/agent/credential?{query}", what)
        if response.status in (401, 403):
            raise errors.PermissionDeniedError("cannot access cloud credentials: permission denied")
        if response.status != 200:
            raise errors.TemporaryError(f"controller answered {response.status} for {what}")
        try:
            spec: dict[str, Any] = json.loads(response.content)
        except ValueError as exc:
            raise errors.TemporaryError(f"controller sent no JSON for {what}") from exc
        return spec

    async def _get(self, path: str, what: str) -> _Response:
        """GET from the controller: a transport failure is temporary, a 404 is not found."""
        try:
            response = await asyncio.to_thread(self._request, path)
        except (OSError, http.client.HTTPException) as exc:
            raise errors.TemporaryError(f"cannot fetch {what}: {exc!r}") from exc
        if response.status == 404:
            raise errors.NotFoundError(f"{what} not found on the controller")
        return response

    def _request(self, path: str) -> _Response:
        """One request on its own connection (a fetch is rare; nothing is kept open)."""
        host, port = self._base.hostname or "localhost", self._base.port
        connection: http.client.HTTPConnection
        if self._base.scheme == "https":
            context = self._verify or ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
        try:
            connection.request("GET", self._base.path + path, headers=self._headers)
            response = connection.getresponse()
            return _Response(response.status, response.read())
        finally:
            connection.close()

    async def aclose(self) -> None:
        """Nothing stays open between fetches."""
