"""Fetch charm archives from the controller's HTTP API (the agent's only httpx use).

`GET {api_url}/v1/charms/{sha256}/archive` with the agent's bearer token. The body is
checked against the hash it was asked for, so a proxy or a bug can never make a unit run a
charm other than the one the controller chose. httpx errors are mapped to Runecraft's at
this edge: network trouble and 5xx are temporary, 404 is not-found, 401/403 permission.
"""

from __future__ import annotations

import hashlib

import httpx

from runecraft import errors

__all__ = ["HttpCharmSource"]


class HttpCharmSource:
    """`unit.CharmSource` over the controller API."""

    def __init__(
        self, api_url: str, token: str, *, client: httpx.AsyncClient | None = None
    ) -> None:
        self._base = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))

    async def fetch(self, sha256: str) -> bytes:
        """The verified archive for `sha256`."""
        url = f"{self._base}/v1/charms/{sha256}/archive"
        try:
            response = await self._client.get(url, headers=self._headers)
        except httpx.HTTPError as exc:
            raise errors.TemporaryError(f"cannot fetch charm {sha256}: {exc}") from exc
        status = response.status_code
        if status == 404:
            raise errors.NotFoundError(f"charm {sha256} not found on the controller")
        if status in (401, 403):
            raise errors.PermissionDeniedError(f"controller refused charm {sha256} ({status})")
        if status == 429 or status >= 500:
            raise errors.TemporaryError(f"controller answered {status} for charm {sha256}")
        if status != 200:
            raise errors.PermanentError(f"controller answered {status} for charm {sha256}")
        body = response.content
        digest = hashlib.sha256(body).hexdigest()
        if digest != sha256:
            raise errors.PermanentError(f"charm download has sha256 {digest}, expected {sha256}")
        return body

    async def fetch_resource(self, sha256: str) -> bytes:
        """An application resource file by hash (`GET /v1/resources/{sha256}`)."""
        url = f"{self._base}/v1/resources/{sha256}"
        try:
            response = await self._client.get(url, headers=self._headers)
        except httpx.HTTPError as exc:
            raise errors.TemporaryError(f"cannot fetch resource {sha256}: {exc}") from exc
        status = response.status_code
        if status == 404:
            raise errors.NotFoundError(f"resource {sha256} not found on the controller")
        if status != 200:
            raise errors.TemporaryError(f"controller answered {status} for resource {sha256}")
        return response.content

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
