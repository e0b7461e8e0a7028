"""Fetch charm archives from the controller's HTTP API (the agent's only httpx use).

`GET {api_url}/v1/charms/{sha256}/archive` with the agent's bearer token. The body is
checked against the hash it was asked for, so a proxy or a bug can never make a unit run a
charm other than the one the controller chose. httpx errors are mapped to Runecraft's at
this edge: network trouble and 5xx are temporary, 404 is not-found, 401/403 permission.
"""

from __future__ import annotations

import hashlib
import ssl
from typing import Any

import httpx

from runecraft import errors

__all__ = ["HttpCharmSource"]


class HttpCharmSource:
    """`unit.CharmSource` over the controller API."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        client: httpx.AsyncClient | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        """`verify`: what an https API is verified against (None: the system's CAs)."""
        self._base = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=10.0), verify=verify or True
        )

    async def fetch(self, sha256: str) -> bytes:
        """The verified archive for `sha256`."""
        what = f"charm {sha256}"
        response = await self._get(f"/v1/charms/{sha256}/archive", what)
        status = response.status_code
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
        if response.status_code != 200:
            raise errors.TemporaryError(f"controller answered {response.status_code} for {what}")
        return response.content

    async def fetch_credential(self, unit: str) -> dict[str, Any]:
        """The cloud spec of a trusted unit's model (`GET /v1/agent/credential`)."""
        what = f"the cloud credential of {unit}"
        response = await self._get(f"/v1/agent/credential?unit={unit}", what)
        if response.status_code in (401, 403):
            raise errors.PermissionDeniedError("cannot access cloud credentials: permission denied")
        if response.status_code != 200:
            raise errors.TemporaryError(f"controller answered {response.status_code} for {what}")
        spec: dict[str, Any] = response.json()
        return spec

    async def _get(self, path: str, what: str) -> httpx.Response:
        """GET from the controller: a transport failure is temporary, a 404 is not found."""
        try:
            response = await self._client.get(f"{self._base}{path}", headers=self._headers)
        except httpx.HTTPError as exc:
            raise errors.TemporaryError(f"cannot fetch {what}: {exc}") from exc
        if response.status_code == 404:
            raise errors.NotFoundError(f"{what} not found on the controller")
        return response

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
